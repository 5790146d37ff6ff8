package idempotency

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Error is a request the engine refused before or instead of running it. Name
// is the problem name of the refusal; the application renders it (see
// Options.WriteError).
type Error struct {
	// Status is the HTTP status code.
	Status int

	// Name is the problem name: idempotency-key-missing,
	// idempotency-key-invalid, request-too-large, idempotency-key-in-use,
	// idempotency-key-reused or internal-error.
	Name string

	// Detail says what happened to this request.
	Detail string

	// RetryAfter, when positive, is how long to wait before retrying.
	RetryAfter time.Duration
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Name, e.Detail) }

// RetryAfterSeconds returns RetryAfter in whole seconds, rounded up, at least 1.
func (e *Error) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(e.RetryAfter.Seconds())))
}

// WriteProblem writes an Error as an RFC 9457 problem whose type is
// /problems/<name>. It is the default of Options.WriteError.
func WriteProblem(w http.ResponseWriter, _ *http.Request, e *Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds()))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":   "/problems/" + e.Name,
		"title":  http.StatusText(e.Status),
		"status": e.Status,
		"detail": e.Detail,
	})
}

func keyProblem(err error) *Error {
	if errors.Is(err, ErrKeyMissing) {
		return &Error{Status: http.StatusBadRequest, Name: "idempotency-key-missing",
			Detail: "This request needs an Idempotency-Key header: one key per operation, " +
				"reused only when retrying that operation."}
	}
	detail := "The Idempotency-Key header must hold one key of 1 to 255 printable " +
		"ASCII characters."
	var ke *KeyError
	if errors.As(err, &ke) {
		detail = "The Idempotency-Key header was refused: " + ke.Reason + "."
	}
	return &Error{Status: http.StatusBadRequest, Name: "idempotency-key-invalid", Detail: detail}
}

func bodyProblem(err error, limit int64) *Error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Name: "request-too-large",
			Detail: fmt.Sprintf("The request body is larger than %d bytes.", limit)}
	}
	return &Error{Status: http.StatusBadRequest, Name: "invalid-request",
		Detail: "The request body could not be read."}
}

// maxInUseWait caps the Retry-After of a 409 idempotency-key-in-use.
const maxInUseWait = 2 * time.Second

func inUse(wait time.Duration) *Error {
	return &Error{Status: http.StatusConflict, Name: "idempotency-key-in-use",
		Detail: "A request with this key is still being processed. Retry with the " +
			"same key after Retry-After seconds to get its result.",
		RetryAfter: wait}
}

func reused() *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Name: "idempotency-key-reused",
		Detail: "This key was already used with a different request (method, path " +
			"or body). Use a new key for a new request."}
}
