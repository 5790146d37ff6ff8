// Package idemtest checks that an HTTP handler keeps the rules of package
// idempotency: a key is required and well formed, a retry gets the first
// response byte for byte, a different request with the same key is refused,
// racing duplicates take effect once, keys of different tenants never meet,
// and refused requests are not stored.
//
// It drives the handler in-process and counts the operation's effects through
// a function the caller provides, so it checks what happened, not only what
// was answered.
package idemtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/writepath/writepath/idempotency"
)

// Target describes the operation under test.
type Target struct {
	// Handler serves the operation, authentication included.
	Handler http.Handler

	// NewRequest returns a new request of the operation, without an
	// Idempotency-Key header, for tenant 0 or 1 (two tenants with different
	// credentials) and body variant 0 or 1 (two different valid bodies).
	NewRequest func(tenant, variant int) *http.Request

	// Effects returns how many times the operation has taken effect so far,
	// across all tenants: rows created, charges made.
	Effects func() int

	// InvalidBody, when set, is a body the handler refuses with 400. It is
	// used to check that a refusal is not stored.
	InvalidBody []byte

	// MaxBodyBytes is the handler's body limit. Zero means 64 KiB.
	MaxBodyBytes int

	// Duplicates is how many copies of one request race. Zero means 20.
	Duplicates int
}

// Check runs every rule as a subtest of t.
func Check(t *testing.T, target Target) {
	t.Helper()
	if target.MaxBodyBytes == 0 {
		target.MaxBodyBytes = 64 << 10
	}
	if target.Duplicates == 0 {
		target.Duplicates = 20
	}
	c := &checker{Target: target}
	t.Run("MissingKeyIsRefused", c.missingKey)
	t.Run("InvalidKeysAreRefused", c.invalidKeys)
	t.Run("RetryReplaysFirstResponse", c.replay)
	t.Run("QuotedKeyIsTheSameKey", c.quotedKey)
	t.Run("DifferentBodyIsRefused", c.differentBody)
	t.Run("TenantsDoNotShareKeys", c.tenants)
	t.Run("RacingDuplicatesTakeEffectOnce", c.race)
	t.Run("TooLargeBodyIsNotStored", c.tooLarge)
	if target.InvalidBody != nil {
		t.Run("InvalidRequestIsNotStored", c.invalidNotStored)
	}
}

type checker struct {
	Target
	seq int
	mu  sync.Mutex
}

// Result is one recorded response.
type result struct {
	Status int
	Header http.Header
	Body   []byte
}

func (c *checker) key(t *testing.T) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return fmt.Sprintf("idemtest-%s-%d", t.Name(), c.seq)
}

func (c *checker) do(tenant, variant int, setKey func(http.Header), body []byte) result {
	r := c.NewRequest(tenant, variant)
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	setKey(r.Header)
	w := httptest.NewRecorder()
	c.Handler.ServeHTTP(w, r)
	return result{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

func withKey(key string) func(http.Header) {
	return func(h http.Header) { h.Set(idempotency.Header, key) }
}

func (c *checker) missingKey(t *testing.T) {
	before := c.Effects()
	got := c.do(0, 0, func(http.Header) {}, nil)
	wantProblem(t, got, http.StatusBadRequest, "idempotency-key-missing")
	wantEffects(t, c.Effects()-before, 0)
}

func (c *checker) invalidKeys(t *testing.T) {
	cases := map[string]func(http.Header){
		"empty":          withKey(""),
		"quoted empty":   withKey(`""`),
		"too long":       withKey(strings.Repeat("k", idempotency.MaxKeyLength+1)),
		"control char":   withKey("abc\x01def"),
		"non-ASCII":      withKey("clé"),
		"bare list":      withKey("a,b"),
		"quoted list":    withKey(`"a", "b"`),
		"unclosed quote": withKey(`"abc`),
		"repeated":       func(h http.Header) { h.Add(idempotency.Header, "a"); h.Add(idempotency.Header, "b") },
	}
	before := c.Effects()
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			wantProblem(t, c.do(0, 0, set, nil), http.StatusBadRequest, "idempotency-key-invalid")
		})
	}
	wantEffects(t, c.Effects()-before, 0)
}

func (c *checker) replay(t *testing.T) {
	key := c.key(t)
	before := c.Effects()
	first := c.do(0, 0, withKey(key), nil)
	wantResult(t, first)
	wantHeader(t, first, idempotency.ReplayedHeader, "false")

	for i := range 2 {
		again := c.do(0, 0, withKey(key), nil)
		wantSame(t, fmt.Sprintf("retry %d", i+1), first, again)
		wantHeader(t, again, idempotency.ReplayedHeader, "true")
	}
	wantEffects(t, c.Effects()-before, 1)
}

func (c *checker) quotedKey(t *testing.T) {
	key := c.key(t)
	before := c.Effects()
	first := c.do(0, 0, withKey(`"`+key+`"`), nil)
	wantResult(t, first)
	again := c.do(0, 0, withKey(key), nil)
	wantSame(t, "bare retry of a quoted key", first, again)
	wantHeader(t, again, idempotency.ReplayedHeader, "true")
	wantEffects(t, c.Effects()-before, 1)
}

func (c *checker) differentBody(t *testing.T) {
	key := c.key(t)
	first := c.do(0, 0, withKey(key), nil)
	wantResult(t, first)
	before := c.Effects()

	got := c.do(0, 1, withKey(key), nil)
	wantProblem(t, got, http.StatusUnprocessableEntity, "idempotency-key-reused")
	wantHeader(t, got, idempotency.ReplayedHeader, "false")
	wantEffects(t, c.Effects()-before, 0)

	// The refusal changed nothing: the original request still replays.
	wantSame(t, "retry after a refused reuse", first, c.do(0, 0, withKey(key), nil))
}

func (c *checker) tenants(t *testing.T) {
	key := c.key(t)
	first := c.do(0, 0, withKey(key), nil)
	wantResult(t, first)
	before := c.Effects()

	// Another tenant with the same key and another body: an unrelated request
	// that runs, neither replayed nor refused as a reuse.
	other := c.do(1, 1, withKey(key), nil)
	wantResult(t, other)
	wantHeader(t, other, idempotency.ReplayedHeader, "false")
	if bytes.Equal(first.Body, other.Body) {
		t.Errorf("tenant 1 got tenant 0's response body")
	}
	wantEffects(t, c.Effects()-before, 1)
}

func (c *checker) race(t *testing.T) {
	key := c.key(t)
	before := c.Effects()
	results := make([]result, c.Duplicates)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range results {
		wg.Go(func() {
			<-start
			results[i] = c.do(0, 0, withKey(key), nil)
		})
	}
	close(start)
	wg.Wait()
	wantEffects(t, c.Effects()-before, 1)

	// Every answer is either the one result or "in use, retry later".
	final := c.do(0, 0, withKey(key), nil)
	for attempt := 0; final.Status == http.StatusConflict && attempt < 100; attempt++ {
		final = c.do(0, 0, withKey(key), nil)
	}
	wantResult(t, final)
	for i, r := range results {
		if r.Status == http.StatusConflict {
			wantProblem(t, r, http.StatusConflict, "idempotency-key-in-use")
			if r.Header.Get("Retry-After") == "" {
				t.Errorf("duplicate %d: 409 without Retry-After", i)
			}
			continue
		}
		wantSame(t, fmt.Sprintf("duplicate %d", i), final, r)
	}
	wantEffects(t, c.Effects()-before, 1)
}

func (c *checker) tooLarge(t *testing.T) {
	key := c.key(t)
	before := c.Effects()
	pad := strings.Repeat("x", c.MaxBodyBytes)
	big, _ := json.Marshal(map[string]string{"pad": pad})
	wantProblem(t, c.do(0, 0, withKey(key), big), http.StatusRequestEntityTooLarge,
		"request-too-large")
	wantEffects(t, c.Effects()-before, 0)

	// Not stored: the same key with a proper body runs.
	got := c.do(0, 0, withKey(key), nil)
	wantResult(t, got)
	wantHeader(t, got, idempotency.ReplayedHeader, "false")
	wantEffects(t, c.Effects()-before, 1)
}

func (c *checker) invalidNotStored(t *testing.T) {
	key := c.key(t)
	before := c.Effects()
	wantProblem(t, c.do(0, 0, withKey(key), c.InvalidBody), http.StatusBadRequest, "")
	wantEffects(t, c.Effects()-before, 0)

	got := c.do(0, 0, withKey(key), nil)
	wantResult(t, got)
	wantHeader(t, got, idempotency.ReplayedHeader, "false")
	wantEffects(t, c.Effects()-before, 1)
}

// wantResult fails unless r is a stored result: not a refusal.
func wantResult(t *testing.T, r result) {
	t.Helper()
	switch r.Status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusConflict,
		http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity,
		http.StatusTooManyRequests:
		t.Fatalf("status %d, want a result; body %s", r.Status, r.Body)
	}
	if r.Status >= 500 {
		t.Fatalf("status %d, want a result; body %s", r.Status, r.Body)
	}
}

func wantSame(t *testing.T, what string, want, got result) {
	t.Helper()
	if got.Status != want.Status {
		t.Fatalf("%s: status %d, want %d", what, got.Status, want.Status)
	}
	if !bytes.Equal(got.Body, want.Body) {
		t.Fatalf("%s: body differs\n got %s\nwant %s", what, got.Body, want.Body)
	}
	if g, w := got.Header.Get("Location"), want.Header.Get("Location"); g != w {
		t.Fatalf("%s: Location %q, want %q", what, g, w)
	}
	if g, w := got.Header.Get("Content-Type"), want.Header.Get("Content-Type"); g != w {
		t.Fatalf("%s: Content-Type %q, want %q", what, g, w)
	}
}

func wantHeader(t *testing.T, r result, name, want string) {
	t.Helper()
	if got := r.Header.Get(name); got != want {
		t.Errorf("%s: %q, want %q", name, got, want)
	}
}

// wantProblem checks a problem answer; an empty name accepts any.
func wantProblem(t *testing.T, r result, status int, name string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem body: %v; body %s", err, r.Body)
	}
	if name != "" && p.Type != "/problems/"+name {
		t.Errorf("problem type %q, want /problems/%s", p.Type, name)
	}
	if p.Status != status {
		t.Errorf("problem status %d, want %d", p.Status, status)
	}
}

func wantEffects(t *testing.T, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("effects: %d, want %d", got, want)
	}
}
