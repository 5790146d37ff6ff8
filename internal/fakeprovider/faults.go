package fakeprovider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"time"
)

// Fault modes, the values of Faults.Mode.
const (
	// ModeNormal answers every request normally.
	ModeNormal = "normal"
	// ModeDown answers 503 before executing anything.
	ModeDown = "down"
	// ModeHang never answers: the request waits until the client gives up or
	// the Server is closed.
	ModeHang = "hang"
	// ModeError answers 500 without executing, for a share of requests set
	// by Faults.ErrorRate.
	ModeError = "error"
	// ModeRateLimited answers 429 with Retry-After: 1 without executing.
	ModeRateLimited = "rate_limited"
	// ModeDropAfterCharge executes each create, stores its answer under the
	// idempotency key, and then closes the connection without answering.
	// Reads are answered normally, so that a reconciler can find the charge.
	ModeDropAfterCharge = "drop_after_charge"
)

// MaxLatencyMS bounds Faults.LatencyMS: ten minutes.
const MaxLatencyMS = 10 * 60 * 1000

// retryAfterSeconds is what the rate_limited fault asks clients to wait.
const retryAfterSeconds = "1"

// Faults is the misbehaviour in force on the /v1 routes.
type Faults struct {
	// Mode is one of the Mode constants. Empty means ModeNormal.
	Mode string `json:"mode"`

	// LatencyMS delays every /v1 request by this many milliseconds before
	// the mode applies, in every mode. Zero means no delay; at most
	// MaxLatencyMS. The delay ends early if the client gives up.
	LatencyMS int `json:"latency_ms"`

	// ErrorRate is the probability, from 0 to 1, that a request fails under
	// ModeError. Zero means 1: every request fails, so that switching to
	// "error" alone breaks the provider. Other modes ignore it.
	ErrorRate float64 `json:"error_rate"`
}

// validate reports whether f can be put in force.
func (f Faults) validate() error {
	switch f.Mode {
	case "", ModeNormal, ModeDown, ModeHang, ModeError, ModeRateLimited, ModeDropAfterCharge:
	default:
		return fmt.Errorf("unknown fault mode %q", f.Mode)
	}
	if f.LatencyMS < 0 || f.LatencyMS > MaxLatencyMS {
		return fmt.Errorf("latency_ms must be between 0 and %d", MaxLatencyMS)
	}
	if math.IsNaN(f.ErrorRate) || f.ErrorRate < 0 || f.ErrorRate > 1 {
		return errors.New("error_rate must be between 0 and 1")
	}
	return nil
}

// SetFaults puts f in force for every later /v1 request, as PUT
// /_control/faults does. It returns an error, and changes nothing, if the
// mode is unknown or a number is out of range.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("set faults: %w", err)
	}
	if f.Mode == "" {
		f.Mode = ModeNormal
	}

	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()

	s.log.LogAttrs(context.Background(), slog.LevelInfo, "faults changed",
		slog.String(logKeyMode, f.Mode),
		slog.Int(logKeyLatencyMS, f.LatencyMS),
		slog.Float64(logKeyErrorRate, f.ErrorRate))
	return nil
}

// Faults returns the faults in force.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// withFaults applies the faults in force once the request's body is in, before
// next gets a chance to execute.
func (s *Server) withFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !readWholeBody(w, r) {
			return
		}
		f := s.Faults()
		if !s.wait(r.Context(), time.Duration(f.LatencyMS)*time.Millisecond) {
			return // the client gave up; nobody is left to answer
		}

		switch f.Mode {
		case ModeDown:
			writeError(w, http.StatusServiceUnavailable, apiError{Type: typeAPI,
				Code: "service_unavailable", Message: "The provider is down."})
		case ModeHang:
			s.hang(w, r)
		case ModeError:
			if !s.failNow(f.ErrorRate) {
				next.ServeHTTP(w, r)
				return
			}
			writeError(w, http.StatusInternalServerError, apiError{Type: typeAPI,
				Code: "internal_error", Message: "The provider failed to process the request."})
		case ModeRateLimited:
			w.Header().Set("Retry-After", retryAfterSeconds)
			writeError(w, http.StatusTooManyRequests, apiError{Type: typeRateLimit,
				Code: "rate_limit", Message: "Too many requests; retry later."})
		case ModeDropAfterCharge:
			s.executeAndDrop(w, r, next)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// readWholeBody reads r's body into memory before any fault applies, and
// reports false, having answered, if it could not. The server only notices
// that a client has gone, and cancels r.Context(), once the body has been read
// to its end; without this a hung or delayed create would outlive its client.
func readWholeBody(w http.ResponseWriter, r *http.Request) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeError(w, http.StatusBadRequest, invalidRequest("parameter_invalid", "",
			"unreadable request body: "+err.Error()))
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

// wait sleeps for d, or less if ctx ends or the server is closed. It reports
// false if ctx ended first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()

	select {
	case <-t.C:
		return true
	case <-s.closed:
		return true
	case <-ctx.Done():
		return false
	}
}

// hang holds the request without answering until the client gives up, or
// until Close, which answers 503: nothing was executed either way.
func (s *Server) hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.closed:
		writeError(w, http.StatusServiceUnavailable, apiError{Type: typeAPI,
			Code: "service_unavailable", Message: "The provider is shutting down."})
	}
}

// failNow decides whether a request fails under ModeError: with probability
// rate, or always when rate is zero.
func (s *Server) failNow(rate float64) bool {
	if rate == 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rand.Float64() < rate
}

// executeAndDrop runs a create to the end, so that the charge is made and its
// answer stored under the key, then closes the connection without a word:
// the client cannot tell whether it was charged. Reads pass through.
func (s *Server) executeAndDrop(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if r.Method != http.MethodPost {
		next.ServeHTTP(w, r)
		return
	}
	next.ServeHTTP(discardWriter{header: make(http.Header)}, r)

	s.log.LogAttrs(r.Context(), slog.LevelInfo, "dropping connection after executing",
		slog.String(logKeyMethod, r.Method), slog.String(logKeyPath, r.URL.Path))

	// HTTP/2 cannot hand its connection over; aborting the handler resets
	// the stream instead, which leaves the client just as much in the dark.
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// discardWriter swallows the answer of a request whose connection is about
// to be dropped.
type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}

// handleGetFaults answers GET /_control/faults with the faults in force.
func (s *Server) handleGetFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

// handlePutFaults answers PUT /_control/faults: it replaces the faults in
// force and answers with them.
func (s *Server) handlePutFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := decodeBody(w, r, &f); err != nil {
		writeError(w, http.StatusBadRequest, invalidRequest("parameter_invalid", "", err.Error()))
		return
	}
	if err := f.validate(); err != nil {
		writeError(w, http.StatusBadRequest, invalidRequest("parameter_invalid", "", err.Error()))
		return
	}
	_ = s.SetFaults(f) // cannot fail: f is valid
	writeJSON(w, http.StatusOK, s.Faults())
}
