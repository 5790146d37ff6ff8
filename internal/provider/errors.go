package provider

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

var (
	// ErrNotSent means the provider certainly did not execute the request.
	// Errors that match it are *NotSentError.
	ErrNotSent = errors.New("provider: request not sent")

	// ErrUnknownOutcome means the request may have reached the provider and
	// executed, but no answer says how it ended.
	ErrUnknownOutcome = errors.New("provider: outcome unknown")

	// ErrInvalidRequest means the provider, or the client before sending,
	// refused the request as it stands. Retrying it unchanged fails again.
	ErrInvalidRequest = errors.New("provider: invalid request")

	// ErrNotFound means the provider has no such payment. It also matches
	// ErrInvalidRequest.
	ErrNotFound = errors.New("provider: no such payment")
)

// Error types the provider reports in APIError.Type.
const (
	// TypeInvalidRequest is a request with bad or missing parameters.
	TypeInvalidRequest = "invalid_request_error"
	// TypeIdempotency is an idempotency key reused with other parameters.
	TypeIdempotency = "idempotency_error"
	// TypeCard is a card error; the client reports these as *DeclineError.
	TypeCard = "card_error"
	// TypeAPI is a failure inside the provider.
	TypeAPI = "api_error"
)

// APIError is an error answer from the provider, as its status and body
// describe it. A definitive 4xx answer matches ErrInvalidRequest, and a 404
// also ErrNotFound; other answers are wrapped in ErrNotSent or
// ErrUnknownOutcome, which say what they mean for the caller.
type APIError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Type is the error's type, such as TypeInvalidRequest; empty if the body
	// did not say.
	Type string
	// Code is the provider's machine-readable code, such as
	// "resource_missing"; may be empty.
	Code string
	// Message is the provider's explanation, for operators.
	Message string
}

// Error returns the status, type, code and message.
func (e *APIError) Error() string {
	s := "provider: " + strconv.Itoa(e.StatusCode)
	for _, part := range []string{e.Type, e.Code} {
		if part != "" {
			s += " " + part
		}
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is reports whether e is a definitive refusal (ErrInvalidRequest) or a
// missing payment (ErrNotFound).
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrInvalidRequest:
		return definitiveRefusal(e.StatusCode)
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	}
	return false
}

// definitiveRefusal reports whether a status means the provider looked at the
// request and refused it without executing. A 402 is a decline, a 429 is a
// throttle, and 408 and 409 (a request with the same key still running) say
// nothing about whether the payment happens.
func definitiveRefusal(status int) bool {
	switch status {
	case http.StatusPaymentRequired, http.StatusRequestTimeout, http.StatusConflict,
		http.StatusTooManyRequests:
		return false
	}
	return status >= 400 && status < 500
}

// DeclineError is a card decline: the provider executed the payment and the
// card issuer refused it. It is definitive; nothing was charged.
type DeclineError struct {
	// Code is the decline code, such as "generic_decline" or
	// "insufficient_funds"; the provider's error code if it gave none.
	Code string
	// Message is the provider's explanation, fit to show the customer.
	Message string
	// Payment is the declined payment, if the answer carried it.
	Payment Payment
}

// Error returns the decline code and message.
func (e *DeclineError) Error() string {
	return fmt.Sprintf("provider: card declined: %s: %s", e.Code, e.Message)
}

// NotSentError is a request the provider certainly did not execute. It
// matches ErrNotSent.
type NotSentError struct {
	// RetryAfter is how long the provider asked the caller to wait before
	// retrying; zero if it did not say.
	RetryAfter time.Duration
	// Err is the cause: a network error or an *APIError.
	Err error
}

// Error returns the cause, marked as not sent.
func (e *NotSentError) Error() string {
	return ErrNotSent.Error() + ": " + e.Err.Error()
}

// Is reports whether target is ErrNotSent.
func (e *NotSentError) Is(target error) bool { return target == ErrNotSent }

// Unwrap returns the cause.
func (e *NotSentError) Unwrap() error { return e.Err }

// unknownOutcome marks cause as a request that may have executed.
func unknownOutcome(cause error) error {
	return fmt.Errorf("%w: %w", ErrUnknownOutcome, cause)
}

// parseRetryAfter reads a Retry-After header, in seconds or as an HTTP date
// relative to now. It returns zero for an absent, malformed or past value.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 32); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
