package idempotency_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/writepath/writepath/idempotency"
	"github.com/writepath/writepath/idempotency/idemtest"
)

// clock is a time source that moves only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// transfers is a small idempotent operation used to test the engine: POST
// /transfers creates one row in effects (step "created"), calls an outside
// service (the hook), and answers 201 with the row.
type transfers struct {
	db     *sql.DB
	engine *idempotency.Engine
	mux    *http.ServeMux
	clock  *clock

	mu   sync.Mutex
	hook func(ctx context.Context, c *idempotency.Call) error // guarded by mu
}

func newTransfers(t *testing.T, db *sql.DB) *transfers {
	t.Helper()
	tr := &transfers{db: db, clock: newClock(), mux: http.NewServeMux()}
	engine, err := idempotency.New(idempotency.Options{
		DB:     db,
		Scope:  func(r *http.Request) string { return r.Header.Get("X-Tenant") },
		Lease:  10 * time.Second,
		Now:    tr.clock.Now,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	tr.engine = engine
	tr.mux.Handle("POST /transfers", engine.Handle(idempotency.Route{
		Pattern: "POST /transfers", Run: tr.run, Current: tr.current,
	}))
	return tr
}

func (tr *transfers) setHook(h func(ctx context.Context, c *idempotency.Call) error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.hook = h
}

var (
	errTransient = errors.New("outside service unavailable")
	errUndo      = errors.New("outside service refused; undo")
)

func (tr *transfers) run(ctx context.Context, c *idempotency.Call) (*idempotency.Response, error) {
	var in struct {
		Amount int `json:"amount"`
	}
	if err := json.Unmarshal(c.Body, &in); err != nil || in.Amount <= 0 {
		return &idempotency.Response{Status: http.StatusBadRequest,
			Header: http.Header{"Content-Type": {"application/problem+json"}},
			Body:   []byte(`{"type":"/problems/invalid-request","status":400}`)}, nil
	}

	id := c.ResourceID()
	if c.RecoveryPoint() == "" {
		id = newID()
		err := c.Step(ctx, "created", id, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO effects (id, scope, amount, step)
				VALUES ($1, $2, $3, 'created')`, id, c.Scope, in.Amount)
			return err
		})
		if err != nil {
			return nil, err
		}
	}

	tr.mu.Lock()
	hook := tr.hook
	tr.mu.Unlock()
	if hook != nil {
		err := hook(ctx, c)
		if errors.Is(err, errUndo) {
			err := c.Forget(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `DELETE FROM effects WHERE id = $1`, id)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &idempotency.Response{Status: http.StatusServiceUnavailable,
				Body: []byte(`{"type":"/problems/unavailable"}`)}, nil
		}
		if errors.Is(err, errTransient) {
			return &idempotency.Response{Status: http.StatusAccepted, Unfinished: true,
				Body: fmt.Appendf(nil, `{"id":%q,"status":"pending"}`, id)}, nil
		} else if err != nil {
			return nil, err
		}
	}

	body := fmt.Appendf(nil, `{"id":%q,"amount":%d,"status":"done"}`, id, in.Amount)
	return c.Finish(ctx, func(tx *sql.Tx) (*idempotency.Response, error) {
		_, err := tx.ExecContext(ctx, `UPDATE effects SET step = 'done' WHERE id = $1`, id)
		return &idempotency.Response{
			Status: http.StatusCreated, Body: body,
			Header: http.Header{"Location": {"/transfers/" + id}},
		}, err
	})
}

func (tr *transfers) current(ctx context.Context, c *idempotency.Call) (*idempotency.Response, error) {
	var amount int
	var step string
	err := tr.db.QueryRowContext(ctx, `SELECT amount, step FROM effects WHERE id = $1`,
		c.ResourceID()).Scan(&amount, &step)
	if err != nil {
		return nil, err
	}
	body := fmt.Appendf(nil, `{"id":%q,"amount":%d,"status":%q}`, c.ResourceID(), amount, step)
	return &idempotency.Response{Status: http.StatusOK, Body: body}, nil
}

func (tr *transfers) post(tenant, key, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/transfers", strings.NewReader(body))
	r.Header.Set("X-Tenant", tenant)
	r.Header.Set(idempotency.Header, key)
	w := httptest.NewRecorder()
	tr.mux.ServeHTTP(w, r)
	return w
}

func TestEngineKeepsTheRules(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, _ idempotency.Dialect) {
		tr := newTransfers(t, db)
		idemtest.Check(t, idemtest.Target{
			Handler: tr.mux,
			NewRequest: func(tenant, variant int) *http.Request {
				body := fmt.Sprintf(`{"amount": %d}`, 100+variant)
				r := httptest.NewRequest("POST", "/transfers", strings.NewReader(body))
				r.Header.Set("X-Tenant", []string{"acme", "globex"}[tenant])
				return r
			},
			Effects:     func() int { return countEffects(t, db) },
			InvalidBody: []byte(`{"amount": -1}`),
		})
	})
}

func TestCrashedRequestIsTakenOverFromItsRecoveryPoint(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, _ idempotency.Dialect) {
		tr := newTransfers(t, db)

		// The first run commits its first step, then stalls as if its process
		// had died: it holds no transaction, only the lease.
		stalled, release := make(chan struct{}), make(chan struct{})
		tr.setHook(func(ctx context.Context, c *idempotency.Call) error {
			if c.Attempt == 1 {
				close(stalled)
				<-release
			}
			return nil
		})
		firstDone := make(chan *httptest.ResponseRecorder)
		go func() { firstDone <- tr.post("acme", "k1", `{"amount": 5}`) }()
		<-stalled

		held := tr.post("acme", "k1", `{"amount": 5}`)
		if held.Code != http.StatusConflict || held.Header().Get("Retry-After") != "2" {
			t.Fatalf("while leased: %d Retry-After %q, want 409 and 2",
				held.Code, held.Header().Get("Retry-After"))
		}

		// Once the lease has run out, a retry takes the key over and resumes
		// after "created" instead of creating a second row.
		var resumedFrom string
		tr.setHook(func(ctx context.Context, c *idempotency.Call) error {
			resumedFrom = c.RecoveryPoint()
			return nil
		})
		tr.clock.Advance(11 * time.Second)
		retry := tr.post("acme", "k1", `{"amount": 5}`)
		if retry.Code != http.StatusCreated {
			t.Fatalf("retry: %d %s, want 201", retry.Code, retry.Body)
		}
		if resumedFrom != "created" {
			t.Errorf("resumed from %q, want created", resumedFrom)
		}
		if n := countEffects(t, db); n != 1 {
			t.Errorf("effects: %d, want 1", n)
		}

		// The stale holder wakes up: its final write is refused, and the
		// stored response stays the one of the run that took over.
		close(release)
		stale := <-firstDone
		if stale.Code != http.StatusConflict {
			t.Errorf("stale holder: %d, want 409", stale.Code)
		}
		replay := tr.post("acme", "k1", `{"amount": 5}`)
		if !bytes.Equal(replay.Body.Bytes(), retry.Body.Bytes()) ||
			replay.Header().Get(idempotency.ReplayedHeader) != "true" {
			t.Errorf("replay: %s (replayed %s), want %s replayed",
				replay.Body, replay.Header().Get(idempotency.ReplayedHeader), retry.Body)
		}
	})
}

func TestUnfinishedRequestIsResumedNotFrozen(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, _ idempotency.Dialect) {
		tr := newTransfers(t, db)
		tr.setHook(func(context.Context, *idempotency.Call) error { return errTransient })

		first := tr.post("acme", "k2", `{"amount": 7}`)
		if first.Code != http.StatusAccepted {
			t.Fatalf("first: %d %s, want 202", first.Code, first.Body)
		}

		// Until the retry delay has passed the key stays reserved.
		early := tr.post("acme", "k2", `{"amount": 7}`)
		if early.Code != http.StatusConflict {
			t.Fatalf("early retry: %d, want 409", early.Code)
		}

		tr.setHook(nil)
		tr.clock.Advance(2 * time.Second)
		retry := tr.post("acme", "k2", `{"amount": 7}`)
		if retry.Code != http.StatusCreated || retry.Header().Get(idempotency.ReplayedHeader) != "false" {
			t.Fatalf("retry: %d replayed %s, want 201 not replayed",
				retry.Code, retry.Header().Get(idempotency.ReplayedHeader))
		}
		if n := countEffects(t, db); n != 1 {
			t.Errorf("effects: %d, want 1", n)
		}
	})
}

func TestCompleterFinishesAbandonedRequest(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, _ idempotency.Dialect) {
		tr := newTransfers(t, db)
		tr.setHook(func(context.Context, *idempotency.Call) error { return errTransient })
		if w := tr.post("acme", "k3", `{"amount": 9}`); w.Code != http.StatusAccepted {
			t.Fatalf("first: %d, want 202", w.Code)
		}

		// Still failing: the completer tries, and backs off further.
		tr.clock.Advance(2 * time.Second)
		if n, err := tr.engine.CompleteAbandoned(context.Background()); err != nil || n != 1 {
			t.Fatalf("CompleteAbandoned: %d, %v; want 1", n, err)
		}
		tr.clock.Advance(time.Second)
		if n, _ := tr.engine.CompleteAbandoned(context.Background()); n != 0 {
			t.Fatalf("CompleteAbandoned during backoff: %d, want 0", n)
		}

		tr.setHook(nil)
		tr.clock.Advance(5 * time.Second)
		if n, err := tr.engine.CompleteAbandoned(context.Background()); err != nil || n != 1 {
			t.Fatalf("CompleteAbandoned after recovery: %d, %v; want 1", n, err)
		}

		// The client's retry now gets the result the completer stored.
		w := tr.post("acme", "k3", `{"amount": 9}`)
		if w.Code != http.StatusCreated || w.Header().Get(idempotency.ReplayedHeader) != "true" {
			t.Fatalf("retry: %d replayed %s, want a 201 replay", w.Code,
				w.Header().Get(idempotency.ReplayedHeader))
		}
		if n := countEffects(t, db); n != 1 {
			t.Errorf("effects: %d, want 1", n)
		}
	})
}

func TestHandlerErrorAfterStepIsNotStored(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, _ idempotency.Dialect) {
		tr := newTransfers(t, db)
		tr.setHook(func(context.Context, *idempotency.Call) error { return errors.New("bug") })
		if w := tr.post("acme", "k4", `{"amount": 3}`); w.Code != http.StatusInternalServerError {
			t.Fatalf("first: %d, want 500", w.Code)
		}

		tr.setHook(nil)
		tr.clock.Advance(2 * time.Second)
		if w := tr.post("acme", "k4", `{"amount": 3}`); w.Code != http.StatusCreated {
			t.Fatalf("retry: %d %s, want 201", w.Code, w.Body)
		}
		if n := countEffects(t, db); n != 1 {
			t.Errorf("effects: %d, want 1", n)
		}
	})
}

func TestExpiredResultKeepsKeyBoundToResource(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, _ idempotency.Dialect) {
		tr := newTransfers(t, db)
		first := tr.post("acme", "k5", `{"amount": 11}`)
		if first.Code != http.StatusCreated {
			t.Fatalf("first: %d, want 201", first.Code)
		}

		tr.clock.Advance(25 * time.Hour)
		if n, err := tr.engine.Reap(context.Background()); err != nil || n != 1 {
			t.Fatalf("Reap: %d, %v; want 1", n, err)
		}

		// A late retry gets the resource as it is now, and creates nothing.
		late := tr.post("acme", "k5", `{"amount": 11}`)
		if late.Code != http.StatusOK || late.Header().Get(idempotency.ReplayedHeader) != "true" {
			t.Fatalf("late retry: %d replayed %s", late.Code,
				late.Header().Get(idempotency.ReplayedHeader))
		}
		if !strings.Contains(late.Body.String(), `"status":"done"`) {
			t.Errorf("late retry body %s, want the current resource", late.Body)
		}
		if w := tr.post("acme", "k5", `{"amount": 12}`); w.Code != http.StatusUnprocessableEntity {
			t.Errorf("late retry with another body: %d, want 422", w.Code)
		}
		if n := countEffects(t, db); n != 1 {
			t.Errorf("effects: %d, want 1", n)
		}
	})
}

func TestForgottenRequestLeavesNothingAndRunsAfresh(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sql.DB, _ idempotency.Dialect) {
		tr := newTransfers(t, db)
		tr.setHook(func(context.Context, *idempotency.Call) error { return errUndo })
		if w := tr.post("acme", "k6", `{"amount": 4}`); w.Code != http.StatusServiceUnavailable {
			t.Fatalf("first: %d, want 503", w.Code)
		}
		var keys int
		_ = db.QueryRow(`SELECT count(*) FROM idempotency_keys`).Scan(&keys)
		if n := countEffects(t, db); n != 0 || keys != 0 {
			t.Fatalf("after Forget: %d effects, %d keys; want none", n, keys)
		}

		// The same key right away: a new request, not a 409 nor a replay.
		tr.setHook(nil)
		w := tr.post("acme", "k6", `{"amount": 4}`)
		if w.Code != http.StatusCreated || w.Header().Get(idempotency.ReplayedHeader) != "false" {
			t.Fatalf("retry: %d replayed %s, want a first 201", w.Code,
				w.Header().Get(idempotency.ReplayedHeader))
		}
	})
}
