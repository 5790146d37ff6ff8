package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/writepath/writepath/idempotency"
	"github.com/writepath/writepath/internal/problem"
)

// Log attribute keys.
const (
	logRequestID = "request_id"
	logKeyHash   = "idempotency_key_hash"
)

// RequestIDHeader carries the id of a request in both directions: a client
// may send one, and every response has one.
const RequestIDHeader = "X-Request-Id"

type logAttrsKey struct{}

// logAttrs collects attributes that handlers learn while serving a request
// (the tenant, say), for the request's log line.
type logAttrs struct {
	mu    sync.Mutex
	attrs []slog.Attr // guarded by mu
}

// setLogAttrs adds attributes to the request's log line.
func setLogAttrs(r *http.Request, attrs ...slog.Attr) {
	if la, ok := r.Context().Value(logAttrsKey{}).(*logAttrs); ok {
		la.mu.Lock()
		la.attrs = append(la.attrs, attrs...)
		la.mu.Unlock()
	}
}

// withRequestLog gives every request an id and logs it once it is answered:
// at debug level when it succeeded, as a warning when it failed on our side.
// The idempotency key is logged as a hash, API keys never.
func (s *Server) withRequestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if id == "" || len(id) > 64 {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		if len(r.Header.Values(idempotency.Header)) > 0 {
			// Every answer to a request with a key says whether it is a
			// replay, refusals before the idempotency layer included.
			w.Header().Set(idempotency.ReplayedHeader, "false")
		}

		la := &logAttrs{attrs: []slog.Attr{slog.String(logRequestID, id)}}
		if key, err := idempotency.ParseKey(r.Header); err == nil {
			la.attrs = append(la.attrs, slog.String(logKeyHash, idempotency.HashKey(key)[:16]))
		}
		r = r.WithContext(context.WithValue(r.Context(), logAttrsKey{}, la))

		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)

		la.mu.Lock()
		if id, ok := strings.CutPrefix(sw.Header().Get("Location"), "/v1/orders/"); ok {
			la.attrs = append(la.attrs, slog.String("order_id", id))
		}
		attrs := append(la.attrs, slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", sw.status()),
			slog.Duration("took", time.Since(start)))
		la.mu.Unlock()
		level := slog.LevelDebug
		if sw.status() >= 500 {
			level = slog.LevelWarn
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// recoverPanics turns a panicking handler into a 500 problem. A panic with
// http.ErrAbortHandler is the handler's way to drop the connection and is
// passed on.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "handler panicked", slog.Any("panic", v))
			problem.Write(w, problem.New(problem.InternalError, "The request failed; retry it."))
		}()
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status of a response. It keeps Flush working
// through http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "req_" + hex.EncodeToString(b)
}
