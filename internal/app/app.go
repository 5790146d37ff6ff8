// Package app assembles writepath from its parts: the database, the payment
// provider (built in or external), the checkout, the idempotency engine and
// its completer, and the HTTP server; and it runs them until told to stop,
// then shuts them down gracefully. The serve command is a thin shell around
// it, and end-to-end tests run it as it is.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/writepath/writepath/idempotency"
	"github.com/writepath/writepath/internal/api"
	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/checkout"
	"github.com/writepath/writepath/internal/fakeprovider"
	"github.com/writepath/writepath/internal/mail"
	"github.com/writepath/writepath/internal/metrics"
	"github.com/writepath/writepath/internal/problem"
	"github.com/writepath/writepath/internal/provider"
	"github.com/writepath/writepath/internal/queue"
	"github.com/writepath/writepath/internal/store"
	"github.com/writepath/writepath/internal/web"
	"github.com/writepath/writepath/internal/webhook"
)

// BuiltinProvider is the Config.Provider value that runs the fake payment
// provider inside the process.
const BuiltinProvider = "builtin"

// Config is the configuration of a service instance.
type Config struct {
	// Addr is the address to listen on, such as "127.0.0.1:8080"; port 0
	// picks a free port.
	Addr string

	// Database is "sqlite:PATH" or a postgres:// URL.
	Database string

	// Provider is BuiltinProvider or the base URL of an external provider.
	Provider string

	// Demo creates a demo tenant at start and reports its API key through
	// OnDemoKey.
	Demo bool

	// OnDemoKey receives the demo tenant's new API key. Nil means it is
	// logged.
	OnDemoKey func(key string)

	// AllowPrivateWebhooks lets webhook URLs resolve to loopback and private
	// addresses.
	AllowPrivateWebhooks bool

	// SMTPAddr is the SMTP server (host:port) confirmation emails go to.
	// Empty means they are written to MailDir instead.
	SMTPAddr string

	// MailDir is where emails go without an SMTP server. Empty means
	// "./writepath-mail".
	MailDir string

	// MailFrom is the From address of emails. Empty means the queue's
	// default.
	MailFrom string

	// WebhookBreaker tunes the breaker of each webhook destination host;
	// zero fields take the breaker package's defaults. IsFailure,
	// OnStateChange and Logger are set by the app.
	WebhookBreaker breaker.Options

	// Queue tunes the background jobs; zero fields take the queue package's
	// defaults. DB, Mail, Webhooks, Breakers, Metrics and Logger are set by
	// the app.
	Queue queue.Options

	// Logger receives the service's logs. Nil means slog.Default().
	Logger *slog.Logger

	// RateLimit is each tenant's sustained request rate per second. Zero
	// means 100, with a burst of twice that.
	RateLimit float64

	// PaymentPolicy is what happens to an order whose payment cannot be
	// sent: "queue" (accept it as queued, charge it later) or "reject" (503,
	// nothing written). Empty means "queue".
	PaymentPolicy string

	// PaymentRetryWindow is how long a queued payment is retried before the
	// order fails with payment_unavailable. Zero means 15 minutes.
	PaymentRetryWindow time.Duration

	// ProviderBreaker tunes the provider's circuit breaker; zero fields take
	// the breaker package's defaults. Its name, timeout (ProviderTimeout),
	// failure test, hooks and logger are set by the app.
	ProviderBreaker breaker.Options

	// ProviderTimeout bounds one provider call. Zero means 10 seconds.
	ProviderTimeout time.Duration

	// Lease is how long a request holds its idempotency key. Zero means 30
	// seconds; it must exceed ProviderTimeout comfortably.
	Lease time.Duration

	// CompleteEvery is how often unfinished requests are looked for and
	// resumed. Zero means one second.
	CompleteEvery time.Duration

	// ReapEvery is how often stored idempotent responses past their
	// retention are dropped. Zero means once a minute.
	ReapEvery time.Duration

	// Now returns the current time. Nil means time.Now. Tests move it to
	// expire stored responses.
	Now func() time.Time

	// ShutdownTimeout bounds the wait for in-flight requests at shutdown.
	// Zero means 20 seconds.
	ShutdownTimeout time.Duration

	// AfterStep is passed to the checkout: a test seam to crash between
	// steps. Nil in production.
	AfterStep func(point string)
}

// App is one running service instance.
type App struct {
	cfg      Config
	log      *slog.Logger
	db       *store.DB
	engine   *idempotency.Engine
	api      *api.Server
	metrics  *metrics.Metrics
	listener net.Listener
	builtin  *builtinProvider // nil with an external provider
	queue    *queue.Queue
	breakers *breaker.Set // one per webhook destination host

	providerBreaker *breaker.Breaker
	done            chan struct{}

	// demoKey is the demo tenant's API key, for the web UI; set once in
	// open, before anything is served.
	demoKey string
}

// New opens and migrates the database, starts the built-in provider if
// configured, and binds the listener. Nothing is served until Run.
func New(ctx context.Context, cfg Config) (*App, error) {
	setDefaults(&cfg)
	a := &App{cfg: cfg, log: cfg.Logger, metrics: metrics.New(), done: make(chan struct{})}
	if err := a.open(ctx); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func setDefaults(cfg *Config) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ProviderTimeout == 0 {
		cfg.ProviderTimeout = 10 * time.Second
	}
	if cfg.Lease == 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.CompleteEvery == 0 {
		cfg.CompleteEvery = time.Second
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 20 * time.Second
	}
}

func (a *App) open(ctx context.Context) error {
	db, err := store.Open(ctx, a.cfg.Database)
	if err != nil {
		return err
	}
	a.db = db
	if n, err := db.Migrate(ctx); err != nil {
		return err
	} else if n > 0 {
		a.log.InfoContext(ctx, "migrated database", slog.Int("migrations", n))
	}

	payments, err := a.paymentProvider()
	if err != nil {
		return err
	}
	if err := a.assemble(payments); err != nil {
		return err
	}
	if a.cfg.Demo {
		if err := a.createDemoKey(ctx); err != nil {
			return err
		}
	}

	a.listener, err = net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return nil
}

// paymentProvider returns the client of the configured provider, starting
// the built-in one first if asked to.
func (a *App) paymentProvider() (*provider.Client, error) {
	base := a.cfg.Provider
	if base == BuiltinProvider {
		b, err := startBuiltinProvider(a.log)
		if err != nil {
			return nil, err
		}
		a.builtin = b
		base = b.url
	}
	client, err := provider.New(provider.Options{BaseURL: base, HTTPClient: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute},
	}})
	if err != nil {
		return nil, fmt.Errorf("provider %q: %w", a.cfg.Provider, err)
	}
	return client, nil
}

func (a *App) assemble(payments checkout.Provider) error {
	watchers := checkout.NewWatchers()
	if err := a.assembleQueue(watchers); err != nil {
		return err
	}
	bo := a.cfg.ProviderBreaker
	bo.Name, bo.Timeout, bo.Logger = "provider", a.cfg.ProviderTimeout, a.log
	bo.IsFailure = checkout.ProviderFailure
	bo.OnStateChange = func(name string, from, to breaker.State) {
		a.metrics.BreakerChanged(name, string(from), string(to))
	}
	a.providerBreaker = breaker.New(bo)
	svc, err := checkout.New(checkout.Options{
		DB: a.db, Provider: payments, Breaker: a.providerBreaker,
		Policy: a.cfg.PaymentPolicy, RetryWindow: a.cfg.PaymentRetryWindow,
		Metrics: a.metrics, Logger: a.log, Watchers: watchers, AfterStep: a.cfg.AfterStep,
		Now: a.cfg.Now, Effects: a.queue, Jobs: a.queue,
	})
	if err != nil {
		return err
	}
	a.queue.SetPayments(svc)
	a.metrics.ObserveBreakers(a.breakerReadings)
	a.engine, err = idempotency.New(idempotency.Options{
		DB: a.db.SQL, Scope: api.TenantID, Lease: a.cfg.Lease, Logger: a.log,
		WriteError: writeIdempotencyError, Observe: a.observeIdempotency,
		ReapEvery: a.cfg.ReapEvery, Now: a.cfg.Now,
	})
	if err != nil {
		return err
	}
	builtinURL := "" // the UI switches the provider's faults only when it is ours
	if a.builtin != nil {
		builtinURL = a.builtin.url
	}
	a.api = api.New(api.Options{
		DB: a.db, Checkout: svc, Watchers: watchers, Idempotency: a.engine,
		Metrics: a.metrics, Logger: a.log, Status: a.status, Done: a.done,
		RateLimit: a.cfg.RateLimit, RateBurst: int(2 * a.cfg.RateLimit),
		Queue: a.queue, Admit: a.queue.Admit, Breakers: a.breakerByName,
		Webhooks: webhook.Guard{AllowPrivate: a.cfg.AllowPrivateWebhooks},
		Web: web.New(web.Options{Demo: a.cfg.Demo, DemoKey: func() string { return a.demoKey },
			ProviderURL: builtinURL, Logger: a.log}),
	})
	return nil
}

// assembleQueue builds the background queue: the mail sender, the webhook
// sender behind one breaker per destination host, and the workers.
func (a *App) assembleQueue(watchers *checkout.Watchers) error {
	var sender mail.Sender = mail.Dir{Path: cmp.Or(a.cfg.MailDir, "./writepath-mail")}
	if a.cfg.SMTPAddr != "" {
		sender = &mail.SMTP{Addr: a.cfg.SMTPAddr}
	}
	bo := a.cfg.WebhookBreaker
	bo.IsFailure, bo.Logger = webhook.IsDependencyFailure, a.log
	bo.Timeout = cmp.Or(bo.Timeout, 20*time.Second)
	bo.OnStateChange = func(name string, from, to breaker.State) {
		a.metrics.BreakerChanged(name, string(from), string(to))
	}
	a.breakers = breaker.NewSet("webhook:", bo)

	opts := a.cfg.Queue
	opts.DB, opts.Mail, opts.MailFrom = a.db, sender, a.cfg.MailFrom
	opts.Webhooks = webhook.NewSender(webhook.Guard{AllowPrivate: a.cfg.AllowPrivateWebhooks})
	opts.Breakers, opts.Metrics, opts.Logger = a.breakers, a.metrics, a.log
	opts.OnOrderChanged = watchers.Notify
	q, err := queue.New(opts)
	if err != nil {
		return err
	}
	a.queue = q
	return nil
}

// Queue returns the service's background queue.
func (a *App) Queue() *queue.Queue { return a.queue }

func (a *App) createDemoKey(ctx context.Context) error {
	_, key, err := a.db.DemoAPIKey(ctx, "demo")
	if err != nil {
		return err
	}
	a.demoKey = key
	if a.cfg.OnDemoKey != nil {
		a.cfg.OnDemoKey(key)
	} else {
		a.log.InfoContext(ctx, "demo tenant ready; its API key is printed only once by serve --demo")
	}
	return nil
}

// Addr returns the address the service listens on.
func (a *App) Addr() string { return a.listener.Addr().String() }

// Handler returns the service's HTTP handler.
func (a *App) Handler() http.Handler { return a.api }

// DB returns the service's database.
func (a *App) DB() *store.DB { return a.db }

// Run serves until ctx is done, then shuts down: it stops accepting
// connections, ends event streams, lets in-flight requests finish within
// Config.ShutdownTimeout, stops the completer and closes the database.
func (a *App) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           a.api,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      a.cfg.Lease + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { a.engine.Run(bg, a.cfg.CompleteEvery) })
	if err := a.queue.Start(bg); err != nil {
		stopBG()
		a.close()
		return err
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(a.listener) }()
	a.log.InfoContext(ctx, "serving", slog.String("addr", a.Addr()),
		slog.String("database", string(a.db.Dialect)), slog.Bool("demo", a.cfg.Demo))

	var err error
	select {
	case err = <-serveErr:
	case <-ctx.Done():
		a.log.InfoContext(ctx, "shutting down")
		close(a.done)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
	}
	// Jobs finish (or are cancelled and left for the next start) before the
	// database closes.
	if qerr := a.queue.Stop(context.WithoutCancel(ctx)); qerr != nil && err == nil {
		err = qerr
	}
	stopBG()
	wg.Wait()
	a.close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (a *App) close() {
	if a.builtin != nil {
		a.builtin.close()
	}
	if a.db != nil {
		a.db.Close()
	}
}

// status is the object of GET /v1/status.
func (a *App) status(ctx context.Context) (any, error) {
	unfinished, err := a.engine.Unfinished(ctx)
	if err != nil {
		return nil, err
	}
	providerKind := "external"
	if a.builtin != nil {
		providerKind = BuiltinProvider
	}
	return map[string]any{
		"database": a.db.Dialect,
		"provider": map[string]any{"kind": providerKind},
		"breakers": breakerStatus(append([]breaker.Snapshot{a.providerBreaker.Snapshot()},
			a.breakers.Snapshots()...)),
		"queues":      a.queue.Lag().Queues,
		"idempotency": map[string]any{"unfinished_requests": unfinished},
	}, nil
}

// breakerReadings lists every breaker for the metrics scrape.
func (a *App) breakerReadings() []metrics.BreakerReading {
	snaps := append([]breaker.Snapshot{a.providerBreaker.Snapshot()}, a.breakers.Snapshots()...)
	out := make([]metrics.BreakerReading, len(snaps))
	for i, s := range snaps {
		out[i] = metrics.BreakerReading{Name: s.Name, NextProbeIn: s.NextProbeIn}
	}
	return out
}

// breakerByName finds a breaker for the operator's switch: "provider", or
// "webhook:HOST" for a destination that has one.
func (a *App) breakerByName(name string) *breaker.Breaker {
	if name == "provider" {
		return a.providerBreaker
	}
	for _, s := range a.breakers.Snapshots() {
		if s.Name == name {
			return a.breakers.For(strings.TrimPrefix(name, "webhook:"))
		}
	}
	return nil
}

// breakerStatus is how /v1/status shows breakers: seconds until the next
// probe, not nanoseconds.
func breakerStatus(snaps []breaker.Snapshot) []map[string]any {
	out := []map[string]any{}
	for _, s := range snaps {
		out = append(out, map[string]any{"name": s.Name, "state": s.State,
			"next_probe_in_seconds": math.Ceil(s.NextProbeIn.Seconds()), "forced": s.Forced})
	}
	return out
}

func (a *App) observeIdempotency(e idempotency.Event) {
	switch e.Outcome {
	case "replayed", "current":
		a.metrics.IdempotentReplay(e.Route)
	case "in_use":
		a.metrics.IdempotencyConflict(e.Route, metrics.ConflictInUse)
	case "reused":
		a.metrics.IdempotencyConflict(e.Route, metrics.ConflictReused)
	case "resumed":
		a.metrics.IdempotencyRecovery(e.Route, "resumed")
	}
}

// writeIdempotencyError renders the engine's refusals with the service's
// problem catalogue.
func writeIdempotencyError(w http.ResponseWriter, _ *http.Request, e *idempotency.Error) {
	p := problem.New(e.Name, e.Detail)
	p.RetryAfter = e.RetryAfter
	problem.Write(w, p)
}

// builtinProvider is the fake payment provider, served on a loopback port of
// its own so that the service talks to it over real HTTP, as it would to an
// external one.
type builtinProvider struct {
	fake *fakeprovider.Server
	srv  *http.Server
	url  string
}

func startBuiltinProvider(log *slog.Logger) (*builtinProvider, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("builtin provider: %w", err)
	}
	fake := fakeprovider.New(fakeprovider.Options{Logger: log.With(slog.String("component", "provider"))})
	b := &builtinProvider{fake: fake, srv: &http.Server{Handler: fake,
		ReadHeaderTimeout: 5 * time.Second}, url: "http://" + l.Addr().String()}
	go func() { _ = b.srv.Serve(l) }()
	return b, nil
}

func (b *builtinProvider) close() {
	b.fake.Close()
	_ = b.srv.Close()
}

// ProviderURL returns the base URL of the payment provider in use: the
// built-in one's loopback address, or the configured one.
func (a *App) ProviderURL() string {
	if a.builtin != nil {
		return a.builtin.url
	}
	return strings.TrimRight(a.cfg.Provider, "/")
}
