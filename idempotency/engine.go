package idempotency

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Options configure an Engine.
type Options struct {
	// DB is the database holding the table. Required.
	DB *sql.DB

	// Table is the table's name. Empty means DefaultTable.
	Table string

	// Scope returns the owner of a request's key, such as its tenant id, read
	// from the request after authentication. Keys of different scopes never
	// meet. Required; a request whose scope is empty is answered 500.
	Scope func(*http.Request) string

	// Lease is how long a request holds its key before another request may
	// take it over. A Func must finish well within it: the engine runs it with
	// a deadline of Lease minus a tenth. Zero means 30 seconds.
	Lease time.Duration

	// Retention is how long stored responses are kept. Zero means 24 hours.
	Retention time.Duration

	// RetryDelay is how long an unfinished request waits before it may be
	// resumed the first time; each later attempt doubles it, up to
	// MaxRetryDelay. Zero means one second.
	RetryDelay time.Duration

	// MaxRetryDelay caps RetryDelay's doubling. Zero means five minutes.
	MaxRetryDelay time.Duration

	// ReapEvery is how often Run reaps expired responses. Zero means once a
	// minute.
	ReapEvery time.Duration

	// MaxBodyBytes is the largest request body read; a larger one is answered
	// 413. Zero means 64 KiB.
	MaxBodyBytes int64

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time

	// Logger receives state changes and failures. Nil means slog.Default().
	Logger *slog.Logger

	// WriteError writes the answer to a request refused by the engine. Nil
	// means WriteProblem.
	WriteError func(http.ResponseWriter, *http.Request, *Error)

	// Observe, when set, is told of every request the engine handles, for
	// metrics.
	Observe func(Event)
}

// Event describes the outcome of one request handled by the engine.
type Event struct {
	// Route is the pattern of the request.
	Route string

	// Outcome is one of "executed", "resumed", "replayed", "current",
	// "in_use", "reused" and "refused".
	Outcome string
}

// Route is one idempotent operation.
type Route struct {
	// Pattern is the http.ServeMux pattern the operation is served under,
	// with its method, such as "POST /v1/orders/{id}/payments".
	Pattern string

	// Run runs or resumes the operation. Required.
	Run Func

	// Current answers a retry whose stored response has expired, from the
	// resource the key is bound to (Call.ResourceID), as it is now. Nil means
	// such retries are answered 422 idempotency-key-reused.
	Current Func
}

// Engine runs idempotent requests. It is safe for concurrent use.
type Engine struct {
	opts   Options
	store  *store
	log    *slog.Logger
	routes map[string]Route
}

// New returns an Engine for the options.
func New(opts Options) (*Engine, error) {
	if opts.DB == nil {
		return nil, errors.New("idempotency: Options.DB is required")
	}
	if opts.Scope == nil {
		return nil, errors.New("idempotency: Options.Scope is required")
	}
	setDefaults(&opts)
	return &Engine{
		opts:   opts,
		store:  &store{db: opts.DB, table: opts.Table},
		log:    opts.Logger.With(slog.String("component", "idempotency")),
		routes: map[string]Route{},
	}, nil
}

func setDefaults(o *Options) {
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if o.Lease == 0 {
		o.Lease = 30 * time.Second
	}
	if o.Retention == 0 {
		o.Retention = 24 * time.Hour
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = time.Second
	}
	if o.MaxRetryDelay == 0 {
		o.MaxRetryDelay = 5 * time.Minute
	}
	if o.ReapEvery == 0 {
		o.ReapEvery = time.Minute
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 64 << 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.WriteError == nil {
		o.WriteError = WriteProblem
	}
}

func (e *Engine) now() time.Time { return e.opts.Now() }

// Handle registers a route and returns its handler, to be served under
// route.Pattern on an http.ServeMux. Registering also lets the completer
// resume the route's unfinished requests.
func (e *Engine) Handle(route Route) http.Handler {
	if route.Run == nil {
		panic("idempotency: Route.Run is required")
	}
	e.routes[route.Pattern] = route
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.serve(w, r, route)
	})
}

// serve is the pipeline of one request: key syntax, body size, fingerprint,
// claim, then run, replay or refuse.
func (e *Engine) serve(w http.ResponseWriter, r *http.Request, route Route) {
	if len(r.Header.Values(Header)) > 0 {
		w.Header().Set(ReplayedHeader, "false") // until a replay says otherwise
	}
	key, err := ParseKey(r.Header)
	if err != nil {
		e.refuse(w, r, route, keyProblem(err))
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, e.opts.MaxBodyBytes))
	if err != nil {
		e.refuse(w, r, route, bodyProblem(err, e.opts.MaxBodyBytes))
		return
	}
	scope := e.opts.Scope(r)
	if scope == "" {
		e.refuse(w, r, route, &Error{Status: 500, Name: "internal-error",
			Detail: "The request has no scope for its idempotency key."})
		return
	}

	rec := e.newRecord(r, route, scope, key, body)
	log := e.log.With(slog.String("route", route.Pattern), slog.String("key_hash", rec.KeyHash[:16]))

	// Keep working when the client goes away: a lost response must not leave
	// the request half done when it could have finished.
	ctx := context.WithoutCancel(r.Context())
	resp, outcome, err := e.claimAndRun(ctx, r, rec, route)
	e.observe(route, outcome)
	if err != nil {
		var refusal *Error
		if errors.As(err, &refusal) {
			e.opts.WriteError(w, r, refusal)
			return
		}
		log.ErrorContext(ctx, "idempotent request failed", slog.Any("error", err))
		e.opts.WriteError(w, r, &Error{Status: 500, Name: "internal-error",
			Detail: "The request could not be completed; retry it with the same key."})
		return
	}
	writeResponse(w, resp, outcome == "replayed" || outcome == "current")
}

// claimAndRun claims the key, or finds what became of it, and acts on that.
// A claim can vanish between the insert and the read (a refused request gives
// its claim back), so the loop tries again a few times.
func (e *Engine) claimAndRun(ctx context.Context, r *http.Request, rec *record,
	route Route) (*Response, string, error) {
	for range 3 {
		claimed, err := e.store.insert(ctx, rec)
		if err != nil {
			return nil, "refused", err
		}
		if claimed {
			resp, err := e.run(ctx, rec, route, false)
			return resp, "executed", err
		}

		existing, err := e.store.load(ctx, rec.Scope, rec.KeyHash)
		if errors.Is(err, errNoRecord) {
			continue
		}
		if err != nil {
			return nil, "refused", err
		}
		return e.existing(ctx, r, rec, existing, route)
	}
	return nil, "in_use", inUse(time.Second)
}

// existing answers a request whose key already has a record.
func (e *Engine) existing(ctx context.Context, r *http.Request, rec, existing *record,
	route Route) (*Response, string, error) {
	if existing.Route != route.Pattern ||
		!sameRequest(existing.Fingerprint, r.Method, r.URL.Path, queryOf(r.URL.RawQuery),
			rec.RequestBody) {
		return nil, "reused", reused()
	}

	switch existing.State {
	case stateDone:
		return &Response{Status: existing.Status, Header: existing.Header, Body: existing.Body},
			"replayed", nil
	case stateExpired:
		return e.current(ctx, existing, route)
	}

	now := e.now()
	if existing.LeaseUntil.After(now) {
		// The lease bounds how long the first request may still take, but
		// most finish within a second or two: ask for a retry soon, and at
		// the latest when the lease ends.
		return nil, "in_use", inUse(min(existing.LeaseUntil.Sub(now), maxInUseWait))
	}
	ok, err := e.store.takeOver(ctx, existing, newToken(), now.Add(e.opts.Lease), now)
	if err != nil {
		return nil, "refused", err
	}
	if !ok {
		return nil, "in_use", inUse(time.Second)
	}
	resp, err := e.run(ctx, existing, route, true)
	return resp, "resumed", err
}

// current answers a retry whose stored response has expired from the
// resource the key is bound to.
func (e *Engine) current(ctx context.Context, rec *record, route Route) (*Response, string, error) {
	if route.Current == nil || rec.ResourceID == "" {
		return nil, "reused", reused()
	}
	resp, err := route.Current(ctx, e.call(rec, true))
	if err != nil {
		return nil, "refused", fmt.Errorf("render current: %w", err)
	}
	return resp, "current", nil
}

// run executes the route's Func under the lease this request holds, then
// stores, releases or gives back the key according to the response.
func (e *Engine) run(ctx context.Context, rec *record, route Route,
	resumed bool) (*Response, error) {
	runCtx, cancel := context.WithTimeout(ctx, e.opts.Lease-e.opts.Lease/10)
	defer cancel()

	resp, err := route.Run(runCtx, e.call(rec, resumed))
	if errors.Is(err, ErrLeaseLost) {
		return nil, inUse(time.Second)
	}
	if err != nil {
		e.unfinished(ctx, rec, 0)
		return nil, err
	}
	if resp.stored {
		return resp, nil
	}

	if storable(resp) {
		resp, err = e.call(rec, resumed).Finish(ctx, func(*sql.Tx) (*Response, error) {
			return resp, nil
		})
		if errors.Is(err, ErrLeaseLost) {
			return nil, inUse(time.Second)
		}
		return resp, err
	}
	e.unfinished(ctx, rec, resp.ResumeAfter)
	return resp, nil
}

// unfinished ends a run that produced no result: a request that committed
// nothing gives its key back, one that committed steps keeps it, to be
// resumed after a delay.
func (e *Engine) unfinished(ctx context.Context, rec *record, after time.Duration) {
	if rec.forgotten {
		return
	}
	var err error
	if rec.RecoveryPoint == "" {
		err = e.store.unclaim(ctx, rec)
	} else {
		if after == 0 {
			after = e.backoff(rec.Attempts)
		}
		now := e.now()
		err = e.store.release(ctx, rec, now.Add(after), now)
	}
	if err != nil && !errors.Is(err, ErrLeaseLost) {
		e.log.WarnContext(ctx, "cannot release key", slog.String("key_hash", rec.KeyHash[:16]),
			slog.Any("error", err))
	}
}

// backoff is the wait before attempt n+1 of an unfinished request.
func (e *Engine) backoff(attempts int) time.Duration {
	d := e.opts.RetryDelay
	for i := 1; i < attempts && d < e.opts.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, e.opts.MaxRetryDelay)
}

func (e *Engine) call(rec *record, resumed bool) *Call {
	return &Call{
		Scope: rec.Scope, KeyHash: rec.KeyHash, Route: rec.Route,
		Method: rec.Method, Path: rec.Path, Query: queryOf(rec.RawQuery),
		Body: rec.RequestBody, Resumed: resumed, Attempt: rec.Attempts,
		engine: e, rec: rec,
	}
}

func (e *Engine) newRecord(r *http.Request, route Route, scope, key string, body []byte) *record {
	now := e.now()
	params := map[string]string{}
	for _, name := range wildcards(route.Pattern) {
		params[name] = r.PathValue(name)
	}
	return &record{
		Scope: scope, KeyHash: HashKey(key),
		Fingerprint: Fingerprint(r.Method, r.URL.Path, queryOf(r.URL.RawQuery), body),
		Route:       route.Pattern, Method: r.Method, Path: r.URL.Path,
		RawQuery: r.URL.RawQuery, Params: params, RequestBody: body,
		State: stateRunning, LeaseToken: newToken(), LeaseUntil: now.Add(e.opts.Lease),
		Attempts: 1, CreatedAt: now,
	}
}

func (e *Engine) refuse(w http.ResponseWriter, r *http.Request, route Route, p *Error) {
	e.observe(route, "refused")
	e.opts.WriteError(w, r, p)
}

func (e *Engine) observe(route Route, outcome string) {
	if e.opts.Observe != nil {
		e.opts.Observe(Event{Route: route.Pattern, Outcome: outcome})
	}
}

// writeResponse sends a response with its replay marker.
func writeResponse(w http.ResponseWriter, resp *Response, replayed bool) {
	for name, values := range resp.Header {
		w.Header()[name] = values
	}
	if w.Header().Get("Content-Type") == "" && len(resp.Body) > 0 {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set(ReplayedHeader, strconv.FormatBool(replayed))
	w.WriteHeader(resp.Status)
	_, _ = io.Copy(w, bytes.NewReader(resp.Body))
}

// wildcards lists the names of a ServeMux pattern's wildcards.
func wildcards(pattern string) []string {
	var names []string
	for rest := pattern; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return names
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return names
		}
		names = append(names, strings.TrimSuffix(rest[i+1:i+j], "..."))
		rest = rest[i+j+1:]
	}
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
