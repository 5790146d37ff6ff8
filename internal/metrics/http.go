package metrics

import (
	"net/http"
	"strconv"
	"time"
)

// Middleware wraps next, the handler of the mux pattern route (such as
// "POST /v1/orders"), to count its requests by method and status and observe
// their duration. The label is the pattern, never the request path, so that
// order IDs do not each make a series. On a nil *Metrics it returns next.
//
// The ResponseWriter that next receives still flushes (Server-Sent Events
// stream through it) and unwraps for http.ResponseController.
func (m *Metrics) Middleware(route string, next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}

		next.ServeHTTP(rec, r)

		method := methodLabel(r.Method)
		m.HTTPRequests.WithLabelValues(route, method, strconv.Itoa(rec.Status())).Inc()
		m.HTTPDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	})
}

// methodLabel returns the method, or "other" for a method that is not
// standard: clients choose the method, and it must not grow the series.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions,
		http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// statusRecorder remembers the status a handler sent.
type statusRecorder struct {
	http.ResponseWriter
	status int // 0 until the header is written
}

// Status returns the status sent, or 200 if the handler sent nothing, as
// net/http does then.
func (r *statusRecorder) Status() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// WriteHeader records the first final status; informational 1xx statuses can
// precede it and are passed on without being recorded.
func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.sentImplicitOK()
	return r.ResponseWriter.Write(b)
}

// Flush sends buffered data to the client, for streams such as SSE.
func (r *statusRecorder) Flush() {
	_ = r.FlushError()
}

// FlushError is Flush reporting failure; http.ResponseController prefers it,
// so that a caller learns when the writer underneath cannot flush.
func (r *statusRecorder) FlushError() error {
	r.sentImplicitOK()
	return http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap returns the writer underneath, for http.ResponseController.
func (r *statusRecorder) Unwrap() http.ResponseWriter {
	return r.ResponseWriter
}

// sentImplicitOK records the 200 that net/http sends when a handler writes or
// flushes before any WriteHeader.
func (r *statusRecorder) sentImplicitOK() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
}
