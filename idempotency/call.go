package idempotency

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// ErrLeaseLost means the request no longer holds its key: its lease expired
// and another request or the completer took the key over. The step that
// returned it was rolled back; the request must stop.
var ErrLeaseLost = errors.New("idempotency lease lost")

// Response is what a Func answers. Only Status, Header and Body are stored and
// replayed.
type Response struct {
	// Status is the HTTP status code.
	Status int

	// Header holds the headers to send and replay, such as Location and
	// Content-Type. Set-Cookie and hop-by-hop headers are never stored.
	Header http.Header

	// Body is the response body, replayed byte for byte.
	Body []byte

	// Unfinished marks a response that reports progress rather than the
	// request's result: the request committed steps but could not finish
	// now (a dependency did not answer, say). It is sent but not stored; the
	// lease is released after ResumeAfter so that a retry or the completer
	// resumes the request from its recovery point.
	Unfinished bool

	// ResumeAfter is how long an unfinished request waits before it may be
	// resumed. Zero means Options.RetryDelay, doubled for every earlier
	// attempt.
	ResumeAfter time.Duration

	stored bool // set by Call.Finish
}

// Func runs, or resumes, one idempotent request. It reads its input from the
// Call, commits its work through Call.Step and Call.Finish, and returns the
// response. It must start from Call.RecoveryPoint: a resumed request has
// already committed the steps up to there.
//
// A Func is also run without an HTTP request, by the completer: it must not
// depend on anything but the Call.
type Func func(ctx context.Context, c *Call) (*Response, error)

// Call is one run of an idempotent request: its input, its recovery point, and
// the lease under which it may write.
type Call struct {
	// Scope is the owner of the key, such as a tenant id.
	Scope string

	// KeyHash is the hex SHA-256 of the key, safe to log.
	KeyHash string

	// Route is the pattern the request was registered under.
	Route string

	// Method and Path are the request's.
	Method, Path string

	// Query is the request's query.
	Query url.Values

	// Body is the request body, as the client first sent it.
	Body []byte

	// Resumed is true when an earlier run of this request held the key before.
	Resumed bool

	// Attempt counts the runs of this request, from 1.
	Attempt int

	engine *Engine
	rec    *record
}

// PathValue returns a wildcard of the route pattern, like
// http.Request.PathValue.
func (c *Call) PathValue(name string) string { return c.rec.Params[name] }

// RecoveryPoint returns the name of the last step the request committed, or ""
// when it committed none.
func (c *Call) RecoveryPoint() string { return c.rec.RecoveryPoint }

// ResourceID returns the resource the request bound its key to, or "".
func (c *Call) ResourceID() string { return c.rec.ResourceID }

// Step commits one step of the request: fn runs in a transaction that also
// moves the recovery point to point and binds the key to resource (pass
// ResourceID() to keep the current one). The transaction commits only if the
// request still holds its lease; otherwise nothing of it is kept and Step
// returns ErrLeaseLost.
//
// fn must use only the transaction it is given: on a database with a single
// connection, any other query would wait for the transaction forever.
func (c *Call) Step(ctx context.Context, point, resource string, fn func(*sql.Tx) error) error {
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		if err := c.engine.store.advance(ctx, tx, c.rec, point, resource, c.engine.now()); err != nil {
			return err
		}
		if fn == nil {
			return nil
		}
		return fn(tx)
	})
	if err != nil {
		return fmt.Errorf("step %s: %w", point, err)
	}
	c.rec.RecoveryPoint, c.rec.ResourceID = point, resource
	return nil
}

// Finish commits the request's last step: fn makes the step's writes and
// returns the response, and the response is stored, in one transaction, on
// the condition that the request still holds its lease. It returns the
// response, marked as stored, for the Func to return.
func (c *Call) Finish(ctx context.Context, fn func(*sql.Tx) (*Response, error)) (*Response, error) {
	var resp *Response
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if resp, err = fn(tx); err != nil {
			return err
		}
		if !storable(resp) {
			return fmt.Errorf("status %d is never stored", resp.Status)
		}
		resp.Header = storedHeader(resp.Header)
		return c.engine.store.complete(ctx, tx, c.rec, resp, c.engine.now())
	})
	if err != nil {
		return nil, fmt.Errorf("finish: %w", err)
	}
	resp.stored = true
	return resp, nil
}

// Forget ends the request as if it had never been made: fn undoes its
// writes and the key is released, in one transaction, on the condition that
// the request still holds its lease. The Func then returns a response that is
// never stored, such as a 503; a retry with the same key runs afresh.
func (c *Call) Forget(ctx context.Context, fn func(*sql.Tx) error) error {
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return c.engine.store.forget(ctx, tx, c.rec)
	})
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	c.rec.forgotten = true
	return nil
}

func (c *Call) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := c.engine.opts.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// storable reports whether a response is a result worth keeping. Problems with
// the request rather than its result, and server errors, are never stored so
// that a corrected or later retry with the same key runs.
func storable(resp *Response) bool {
	if resp.Unfinished || resp.Status >= 500 {
		return false
	}
	switch resp.Status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusConflict,
		http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return false
	}
	return true
}

// storedHeader keeps the headers of a response that may be replayed.
func storedHeader(h http.Header) http.Header {
	out := http.Header{}
	for name, values := range h {
		switch http.CanonicalHeaderKey(name) {
		case "Set-Cookie", "Connection", "Transfer-Encoding", "Content-Length", "Date",
			ReplayedHeader, "Retry-After":
			continue
		}
		out[http.CanonicalHeaderKey(name)] = append([]string(nil), values...)
	}
	return out
}
