package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/writepath/writepath/internal/problem"
	"github.com/writepath/writepath/internal/queue"
	"github.com/writepath/writepath/internal/store"
	"github.com/writepath/writepath/internal/webhook"
)

// admitted refuses new work with 503 overloaded while the must-deliver
// backlog is older than its budget. It runs before the idempotency key is
// claimed, so a refused request leaves nothing behind and its retry with
// the same key runs normally.
func (s *Server) admitted(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Admit != nil {
			if ok, wait := s.opts.Admit(); !ok {
				s.opts.Metrics.AdmissionRejected(route)
				p := problem.New(problem.Overloaded, "The service is behind on confirmations "+
					"and webhooks; nothing was written. Retry after Retry-After seconds.")
				p.RetryAfter = wait
				problem.Write(w, p)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// delivery is a side effect as the API shows it.
type delivery struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	OrderID    string    `json:"order_id"`
	EndpointID string    `json:"endpoint_id,omitempty"`
	Status     string    `json:"status"`
	Attempts   int       `json:"attempts"`
	LastError  string    `json:"last_error,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

func deliveries(effects []*store.Effect) []delivery {
	out := make([]delivery, 0, len(effects))
	for _, e := range effects {
		out = append(out, delivery{ID: e.ID, Kind: e.Kind, OrderID: e.OrderID,
			EndpointID: e.EndpointID, Status: e.Status, Attempts: e.Attempts,
			LastError: e.LastError, CreatedAt: e.CreatedAt})
	}
	return out
}

// createEndpoint registers a webhook endpoint and answers with its signing
// secret, the only time the secret is shown.
func (s *Server) createEndpoint(w http.ResponseWriter, r *http.Request) {
	var in struct {
		URL string `json:"url"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.URL == "" {
		problem.Write(w, problem.New(problem.InvalidRequest,
			`The body must be {"url": "https://..."}.`))
		return
	}
	if err := s.opts.Webhooks.CheckURL(r.Context(), in.URL); err != nil {
		problem.Write(w, problem.New(problem.InvalidRequest, "The webhook URL was refused: "+
			err.Error()+"."))
		return
	}

	ep := &store.WebhookEndpoint{ID: store.NewID("we"), TenantID: TenantID(r), URL: in.URL,
		Secret: webhook.NewSecret(), CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if err := store.InsertWebhookEndpoint(r.Context(), s.opts.DB.SQL, ep); err != nil {
		s.internalError(w, r, "create webhook endpoint", err)
		return
	}
	w.Header().Set("Location", "/v1/webhook_endpoints/"+ep.ID)
	writeJSON(w, http.StatusCreated, ep)
}

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request) {
	eps, err := store.WebhookEndpoints(r.Context(), s.opts.DB.SQL, TenantID(r))
	if err != nil {
		s.internalError(w, r, "list webhook endpoints", err)
		return
	}
	for _, ep := range eps {
		ep.Secret = "" // shown once, at creation
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": nonNil(eps)})
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	ctx, tenant, id := r.Context(), TenantID(r), r.PathValue("id")
	if _, err := store.GetWebhookEndpoint(ctx, s.opts.DB.SQL, tenant, id); err != nil {
		s.writeMissing(w, r, err, "No webhook endpoint with this id exists for this account.")
		return
	}
	effects, err := store.EffectsOfEndpoint(ctx, s.opts.DB.SQL, tenant, id, 100)
	if err != nil {
		s.internalError(w, r, "list deliveries", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": deliveries(effects)})
}

func (s *Server) listDead(w http.ResponseWriter, r *http.Request) {
	effects, err := s.opts.Queue.Dead(r.Context(), TenantID(r), 100)
	if err != nil {
		s.internalError(w, r, "list dead jobs", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": deliveries(effects)})
}

// replay runs a dead or delivered side effect again, with the same
// idempotency key it had.
func (s *Server) replay(w http.ResponseWriter, r *http.Request) {
	e, err := s.opts.Queue.Replay(r.Context(), TenantID(r), r.PathValue("id"))
	switch {
	case errors.Is(err, queue.ErrNotReplayable):
		problem.Write(w, problem.New(problem.DeliveryNotReplayable,
			"This delivery is still queued, running or finishing its last attempt; "+
				"replay it once it is done or dead."))
	case err != nil:
		s.writeMissing(w, r, err, "No delivery with this id exists for this account.")
	default:
		writeJSON(w, http.StatusAccepted, deliveries([]*store.Effect{e})[0])
	}
}

// writeMissing answers 404 for store.ErrNotFound and 500 otherwise.
func (s *Server) writeMissing(w http.ResponseWriter, r *http.Request, err error, detail string) {
	if errors.Is(err, store.ErrNotFound) {
		problem.Write(w, problem.New(problem.NotFound, detail))
		return
	}
	s.internalError(w, r, "lookup", err)
}

func (s *Server) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.log.ErrorContext(r.Context(), what, slog.Any("error", err))
	problem.Write(w, problem.New(problem.InternalError, "The request failed; retry it."))
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
