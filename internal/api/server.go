package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/writepath/writepath/idempotency"
	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/checkout"
	"github.com/writepath/writepath/internal/metrics"
	"github.com/writepath/writepath/internal/problem"
	"github.com/writepath/writepath/internal/queue"
	"github.com/writepath/writepath/internal/store"
	"github.com/writepath/writepath/internal/webhook"
)

// Options configure a Server.
type Options struct {
	// DB is the database. Required.
	DB *store.DB

	// Checkout runs the write path. Required.
	Checkout *checkout.Service

	// Watchers signal order changes to event streams. Nil means streams
	// notice changes by polling only.
	Watchers *checkout.Watchers

	// Idempotency is the engine the write routes run under. Required; its
	// Options.Scope must be TenantID.
	Idempotency *idempotency.Engine

	// Metrics counts requests. Nil means none.
	Metrics *metrics.Metrics

	// Logger receives request failures. Nil means slog.Default().
	Logger *slog.Logger

	// RateLimit is each tenant's sustained request rate per second, and
	// RateBurst the burst above it. Zero means 100 and 200.
	RateLimit float64
	RateBurst int

	// Status returns the object served at GET /v1/status. Nil means an
	// object without dependencies.
	Status func(ctx context.Context) (any, error)

	// EventPoll is how often an event stream rereads its order, to see
	// changes made by other processes. Zero means one second.
	EventPoll time.Duration

	// Queue works side effects; the webhook and dead-job routes use it.
	// Required.
	Queue *queue.Queue

	// Admit, when set, is asked before an order is accepted; a refusal is
	// answered 503 overloaded with its Retry-After, and nothing is written.
	Admit func() (bool, time.Duration)

	// Breakers finds a circuit breaker by name for the operator's manual
	// switch, or nil. Nil means no breaker can be switched.
	Breakers func(name string) *breaker.Breaker

	// Webhooks checks webhook URLs at registration.
	Webhooks webhook.Guard

	// Done, when closed, ends open event streams, so that a graceful
	// shutdown does not wait for them. Nil means never.
	Done <-chan struct{}

	// Web serves the browser UI (package web) at GET /, /ops, /static/ and
	// /demo/. Nil means no UI: those paths answer 404 like any other.
	Web http.Handler
}

// Server is the HTTP API. It is an http.Handler.
type Server struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	limits  *limiters
	handler http.Handler
}

// New returns a Server for the options.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = 100
	}
	if opts.RateBurst == 0 {
		opts.RateBurst = 200
	}
	if opts.EventPoll == 0 {
		opts.EventPoll = time.Second
	}
	s := &Server{
		opts:   opts,
		log:    opts.Logger.With(slog.String("component", "api")),
		mux:    http.NewServeMux(),
		limits: newLimiters(rate.Limit(opts.RateLimit), opts.RateBurst),
	}
	s.routes()
	s.handler = s.withRequestLog(s.recoverPanics(s.problemForUnrouted(s.mux)))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() {
	orders := idempotency.Route{Pattern: "POST /v1/orders",
		Run: s.opts.Checkout.CreateOrder, Current: s.opts.Checkout.CurrentOrder}
	payments := idempotency.Route{Pattern: "POST /v1/orders/{id}/payments",
		Run: s.opts.Checkout.PayOrder, Current: s.opts.Checkout.CurrentOrder}

	s.handle(orders.Pattern, s.tenantOnly(s.admitted(orders.Pattern,
		s.opts.Idempotency.Handle(orders))))
	s.handle(payments.Pattern, s.tenantOnly(s.opts.Idempotency.Handle(payments)))
	s.handle("PUT /v1/breakers/{name}", s.tenantOnly(http.HandlerFunc(s.switchBreaker)))
	s.handle("GET /v1/orders/{id}", s.tenantOnly(http.HandlerFunc(s.getOrder)))
	s.handle("GET /v1/orders/{id}/events", s.tenantOnly(http.HandlerFunc(s.orderEvents)))
	s.handle("GET /v1/status", s.tenantOnly(http.HandlerFunc(s.status)))

	s.handle("POST /v1/webhook_endpoints", s.tenantOnly(http.HandlerFunc(s.createEndpoint)))
	s.handle("GET /v1/webhook_endpoints", s.tenantOnly(http.HandlerFunc(s.listEndpoints)))
	s.handle("GET /v1/webhook_endpoints/{id}/deliveries",
		s.tenantOnly(http.HandlerFunc(s.listDeliveries)))
	s.handle("POST /v1/webhook_deliveries/{id}/replay", s.tenantOnly(http.HandlerFunc(s.replay)))
	s.handle("GET /v1/dead_jobs", s.tenantOnly(http.HandlerFunc(s.listDead)))
	s.handle("POST /v1/dead_jobs/{id}/replay", s.tenantOnly(http.HandlerFunc(s.replay)))

	s.handle("GET /healthz", http.HandlerFunc(s.healthz))
	s.handle("GET /readyz", http.HandlerFunc(s.readyz))
	s.handle("GET /metrics", s.opts.Metrics.Handler())
	s.mux.Handle("/problems/", problem.Pages())

	// The UI's paths one by one, not "/": a catch-all would match every path
	// and take the problem 404 away from unknown /v1 paths.
	if s.opts.Web != nil {
		for _, p := range []string{"GET /{$}", "GET /ops", "GET /static/",
			"GET /demo/config.json", "GET /demo/faults", "PUT /demo/faults"} {
			s.mux.Handle(p, s.opts.Web)
		}
	}
}

// handle registers a route, counted in metrics under its pattern.
func (s *Server) handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.opts.Metrics.Middleware(pattern, h))
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	o, err := s.opts.Checkout.Order(r.Context(), TenantID(r), r.PathValue("id"))
	if err != nil {
		s.writeLookupError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the database answers and the queue can take and
// work jobs, within two seconds.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	detail := ""
	if err := s.opts.DB.SQL.PingContext(ctx); err != nil {
		detail = "the database does not answer: " + err.Error()
	} else if err := s.opts.Queue.Ready(ctx); err != nil {
		detail = "the queue is not usable: " + err.Error()
	}
	if detail != "" {
		s.log.WarnContext(ctx, "not ready", slog.String("detail", detail))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{
			"status": "unavailable", "detail": detail})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if s.opts.Status == nil {
		writeJSON(w, http.StatusOK, map[string]any{"breakers": map[string]any{},
			"queues": map[string]any{}})
		return
	}
	v, err := s.opts.Status(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "status", slog.Any("error", err))
		problem.Write(w, problem.New(problem.InternalError, "The status could not be read."))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) writeLookupError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		problem.Write(w, problem.New(problem.NotFound, "No order with this id exists for this account."))
		return
	}
	s.log.ErrorContext(r.Context(), "read order", slog.Any("error", err))
	problem.Write(w, problem.New(problem.InternalError, "The order could not be read; retry."))
}

// problemForUnrouted answers requests no route matches (404, or 405 when
// the path exists with another method) with a problem instead of the
// ServeMux's plain text.
func (s *Server) problemForUnrouted(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		if rec.Code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.Header().Get("Allow"))
			problem.Write(w, problem.New(problem.MethodNotAllowed,
				"This path does not accept "+r.Method+"; allowed: "+rec.Header().Get("Allow")+"."))
			return
		}
		if rec.Code >= 300 && rec.Code < 400 { // the mux's redirect to a cleaned path
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			return
		}
		problem.Write(w, problem.New(problem.NotFound, "There is nothing at "+r.URL.Path+"."))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		problem.Write(w, problem.New(problem.InternalError, "The answer could not be encoded."))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
