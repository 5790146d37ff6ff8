package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// DefaultTimeout bounds one attempt when Sender.Timeout is zero: the
	// scheme counts a 2xx within about 15 seconds as delivered.
	DefaultTimeout = 15 * time.Second

	// DefaultUserAgent is the User-Agent of deliveries when
	// Sender.UserAgent is empty.
	DefaultUserAgent = "writepath-webhooks/1"

	// SnippetBytes is how much of an answer's body Result keeps.
	SnippetBytes = 512

	// drainBytes is how much more of an answer is read and dropped, so that
	// a connection with a short answer can be reused.
	drainBytes = 4 << 10
)

// ErrGone matches a *StatusError for 410 Gone: the receiver wants no more
// messages, and the endpoint should be disabled.
var ErrGone = errors.New("webhook: endpoint gone")

// Delivery is one attempt to deliver one message to one endpoint.
type Delivery struct {
	// URL is the endpoint's URL, as registered.
	URL string
	// Secret is the endpoint's signing secret, from NewSecret.
	Secret string
	// MessageID is the webhook-id. Keep it the same on every retry of one
	// message: receivers drop duplicates by it.
	MessageID string
	// Timestamp is the time of this attempt, signed as webhook-timestamp.
	// Zero means now.
	Timestamp time.Time
	// Body is the JSON payload, sent and signed byte for byte.
	Body []byte
}

// Result is what an attempt got back, for the delivery log.
type Result struct {
	// Status is the HTTP status of the answer; zero if none came.
	Status int
	// Took is the time from sending to the end of reading the snippet.
	Took time.Duration
	// ResponseSnippet is the first SnippetBytes bytes of the answer's body,
	// with invalid UTF-8 replaced.
	ResponseSnippet string
}

// StatusError is an answer other than 2xx, redirects included.
type StatusError struct {
	// Code is the HTTP status.
	Code int
	// RetryAfter is the wait the receiver asked for in Retry-After; zero
	// if it did not say. The next attempt should come no sooner.
	RetryAfter time.Duration
}

// Error returns the status.
func (e *StatusError) Error() string {
	s := "webhook: receiver answered " + strconv.Itoa(e.Code)
	if text := http.StatusText(e.Code); text != "" {
		s += " " + text
	}
	return s
}

// Retryable reports whether another attempt may succeed: true for every
// status except 410 Gone. See the package documentation for why 4xx answers
// are retried.
func (e *StatusError) Retryable() bool { return e.Code != http.StatusGone }

// Is reports whether target is ErrGone and the status is 410.
func (e *StatusError) Is(target error) bool {
	return target == ErrGone && e.Code == http.StatusGone
}

// sendError is an attempt that got no answer: a timeout, a connection
// error, a refusal of the guard, or the caller's cancellation.
type sendError struct {
	err error
}

// Error returns the cause, marked as a failed send.
func (e *sendError) Error() string { return "webhook: send: " + e.err.Error() }

// Unwrap returns the cause.
func (e *sendError) Unwrap() error { return e.err }

// IsDependencyFailure reports whether err says the destination is failing,
// which a circuit breaker per destination should count: a timeout, a
// connection error, or a 5xx answer. It is false for nil, for other
// answers (the receiver is up and chose its answer), for the guard's
// refusals, for invalid deliveries, and for the caller's cancellation.
func IsDependencyFailure(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500
	}
	var sent *sendError
	if !errors.As(err, &sent) {
		return false
	}
	return !errors.Is(err, ErrPrivateAddress) && !errors.Is(err, context.Canceled)
}

// IsRetryable reports whether another attempt of the same delivery may
// succeed: false for nil, for 410 Gone, for the guard's refusals and for
// invalid deliveries (bad URL, secret or message id); true for other answers
// and for attempts that got no answer.
func IsRetryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Retryable()
	}
	var sent *sendError
	return errors.As(err, &sent) && !errors.Is(err, ErrPrivateAddress)
}

// Sender delivers webhooks, one attempt per call. It is safe for concurrent
// use. Its zero value refuses private addresses.
type Sender struct {
	// Client sends the requests. It should come from Guard.Client, whose
	// dialer refuses private addresses and which follows no redirects. Nil
	// means a shared client of the zero Guard.
	Client *http.Client

	// Timeout bounds one attempt, from dialing to reading the snippet.
	// Zero means DefaultTimeout.
	Timeout time.Duration

	// UserAgent is sent as User-Agent. Empty means DefaultUserAgent.
	UserAgent string
}

// NewSender returns a Sender on g.Client, with the default timeout and user
// agent.
func NewSender(g Guard) *Sender {
	return &Sender{Client: g.Client()}
}

// defaultClient is the client of a Sender without one.
var defaultClient = sync.OnceValue(Guard{}.Client)

// Send makes one attempt to deliver d, signed for d.Timestamp. A 2xx answer
// returns a nil error; any other answer a *StatusError; no answer an error
// that IsRetryable and IsDependencyFailure classify. The Result is filled
// as far as the attempt got, error or not. Send never retries.
func (s *Sender) Send(ctx context.Context, d Delivery) (Result, error) {
	timeout := s.timeout()
	attemptCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := s.request(attemptCtx, d)
	if err != nil {
		return Result{}, err
	}

	start := time.Now()
	resp, err := s.client().Do(req)
	if err != nil {
		return Result{Took: time.Since(start)}, noAnswer(ctx, attemptCtx, timeout, err)
	}
	snippet := readSnippet(resp.Body)
	res := Result{Status: resp.StatusCode, Took: time.Since(start), ResponseSnippet: snippet}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return res, &StatusError{Code: resp.StatusCode, RetryAfter: retryAfter}
	}
	return res, nil
}

// request builds the signed POST of d. Its errors say the delivery is
// invalid; nothing was sent.
func (s *Sender) request(ctx context.Context, d Delivery) (*http.Request, error) {
	u, err := parseURL(d.URL)
	if err != nil {
		return nil, err
	}
	ts := d.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	h, err := Headers(d.Secret, d.MessageID, ts, d.Body)
	if err != nil {
		return nil, err
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(d.Body))
	if err != nil {
		return nil, invalidURL(err, "cannot build a request")
	}
	req.Header = h
	req.Header.Set("User-Agent", s.userAgent())
	return req, nil
}

// noAnswer wraps the error of an attempt that got no answer. It drops the
// URL that net/http puts in its errors, because a receiver's URL may carry
// a token in its query and these errors go to the delivery log, and it
// says so when the attempt ran out of its own time rather than the
// caller's.
func noAnswer(callerCtx, attemptCtx context.Context, timeout time.Duration, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if callerCtx.Err() == nil && errors.Is(attemptCtx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %s: %w", timeout, err)
	}
	return &sendError{err: err}
}

// readSnippet reads the start of an answer's body, drains a little more so
// the connection can be reused, and closes it. A read error ends the
// snippet early: the status has already decided the outcome.
func readSnippet(body io.ReadCloser) string {
	defer body.Close()
	buf := make([]byte, SnippetBytes)
	n, _ := io.ReadFull(body, buf)
	_, _ = io.CopyN(io.Discard, body, drainBytes)
	return strings.ToValidUTF8(string(buf[:n]), "\uFFFD")
}

// parseRetryAfter reads a Retry-After value, in seconds or as an HTTP date
// relative to now. It returns zero for an absent, malformed or past value.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 32); err == nil {
		return time.Duration(max(secs, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// client returns the Client, or the shared default client if it is nil.
func (s *Sender) client() *http.Client {
	if s.Client == nil {
		return defaultClient()
	}
	return s.Client
}

// timeout returns the Timeout, or DefaultTimeout if it is not positive.
func (s *Sender) timeout() time.Duration {
	if s.Timeout <= 0 {
		return DefaultTimeout
	}
	return s.Timeout
}

// userAgent returns the UserAgent, or DefaultUserAgent if it is empty.
func (s *Sender) userAgent() string {
	if s.UserAgent == "" {
		return DefaultUserAgent
	}
	return s.UserAgent
}
