package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/writepath/writepath/idempotency/idemtest"
	"github.com/writepath/writepath/internal/fakeprovider"
	"github.com/writepath/writepath/internal/store/storetest"
)

func TestOrdersKeepTheIdempotencyRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		s := startService(t, dbURL, serviceOptions{})
		idemtest.Check(t, idemtest.Target{
			Handler: s.app.Handler(),
			NewRequest: func(tenant, variant int) *http.Request {
				body := orderBody([]string{"pm_card_visa", "pm_card_chargeDeclined"}[variant])
				r, _ := http.NewRequest("POST", "/v1/orders", bytes.NewReader(body))
				r.Header.Set("Authorization", "Bearer "+s.keys[tenant])
				return r
			},
			// An effect is a charge attempt the provider saw: one per order.
			Effects:     func() int { return len(s.provider.Ledger()) },
			InvalidBody: []byte(`{"currency":"usd"}`),
		})
		if got := len(s.provider.Ledger()); got != s.countOrders() {
			t.Errorf("provider saw %d payments for %d orders", got, s.countOrders())
		}
	})
}

func TestOrderOutcomes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		s := startService(t, dbURL, serviceOptions{})
		cases := []struct {
			pm, status, payment, decline string
			code                         int
		}{
			{"pm_card_visa", "completed", "succeeded", "", 201},
			{"pm_card_chargeDeclined", "failed", "declined", "generic_decline", 402},
			{"pm_card_chargeDeclinedInsufficientFunds", "failed", "declined", "insufficient_funds", 402},
		}
		for _, tc := range cases {
			r := s.postOrder(newKey(), tc.pm)
			if r.Status != tc.code {
				t.Fatalf("%s: status %d, want %d; %s", tc.pm, r.Status, tc.code, r.Body)
			}
			o := r.order(t)
			if o.Status != tc.status || o.Payment.Status != tc.payment || o.Amount != 2500 {
				t.Errorf("%s: order %+v", tc.pm, o)
			}
			if r.Header.Get("Location") != "/v1/orders/"+o.ID {
				t.Errorf("%s: Location %q", tc.pm, r.Header.Get("Location"))
			}
			if tc.decline != "" && (o.Failure == nil || o.Failure.Code != "card_declined" ||
				o.Failure.DeclineCode != tc.decline) {
				t.Errorf("%s: failure %+v, want card_declined/%s", tc.pm, o.Failure, tc.decline)
			}

			// A read agrees with the answer; to the byte while nothing runs in
			// the background (a completed order's email may have moved on).
			got := s.do("GET", "/v1/orders/"+o.ID, s.keys[0], nil, nil)
			same := bytes.Equal(got.Body, r.Body)
			if tc.code == http.StatusCreated {
				same = got.order(t).Status == o.Status && got.order(t).ID == o.ID
			}
			if got.Status != 200 || !same {
				t.Errorf("%s: GET: %d %s\nwant %s", tc.pm, got.Status, got.Body, r.Body)
			}
			if other := s.do("GET", "/v1/orders/"+o.ID, s.keys[1], nil, nil); other.Status != 404 {
				t.Errorf("%s: another tenant's GET: %d, want 404", tc.pm, other.Status)
			}
		}
	})
}

func TestRacingDuplicatesChargeOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		s := startService(t, dbURL, serviceOptions{})
		// A slow provider widens the window in which duplicates overlap.
		_ = s.provider.SetFaults(fakeprovider.Faults{Mode: fakeprovider.ModeNormal, LatencyMS: 200})

		key := newKey()
		var wg sync.WaitGroup
		statuses := make([]int, 32)
		for i := range statuses {
			wg.Go(func() { statuses[i] = s.postOrder(key, "pm_card_visa").Status })
		}
		wg.Wait()

		counts := map[int]int{}
		for _, st := range statuses {
			counts[st]++
		}
		if counts[201]+counts[409] != len(statuses) || counts[201] == 0 {
			t.Errorf("statuses %v, want only 201 and 409", counts)
		}
		if n := s.countOrders(); n != 1 {
			t.Errorf("orders: %d, want 1", n)
		}
		ledger := s.provider.Ledger()
		if len(ledger) != 1 || ledger[0].Status != "succeeded" {
			t.Errorf("ledger %+v, want one succeeded payment", ledger)
		}
	})
}

// TestEveryProblemIsAProblem causes each refusal of SPEC section 2 that the
// order endpoints can give, and checks its status, problem type and that
// nothing was written.
func TestEveryProblemIsAProblem(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		s := startService(t, dbURL, serviceOptions{})
		valid := orderBody("pm_card_visa")
		taken := newKey()
		if r := s.postOrder(taken, "pm_card_visa"); r.Status != 201 {
			t.Fatalf("setup: %d", r.Status)
		}
		before, ledgerBefore, keysBefore := s.countOrders(), len(s.provider.Ledger()), s.countKeys()

		k := func(key string) http.Header { return http.Header{"Idempotency-Key": {key}} }
		noItems := bytes.Replace(valid, []byte(`[{"sku":"tea-01","quantity":2,"unit_amount":1250}]`),
			[]byte(`[]`), 1)
		negative := bytes.Replace(valid, []byte(`1250`), []byte(`-5`), 1)
		huge := bytes.Repeat([]byte(" "), 65<<10)
		declined := orderBody("pm_card_chargeDeclined")
		cases := []struct {
			name, method, path, apiKey string
			header                     http.Header
			body                       []byte
			status                     int
			problem                    string
		}{
			{"no key", "POST", "/v1/orders", s.keys[0], nil, valid, 400, "idempotency-key-missing"},
			{"empty key", "POST", "/v1/orders", s.keys[0], k(""), valid, 400, "idempotency-key-invalid"},
			{"list key", "POST", "/v1/orders", s.keys[0], k(`"a", "b"`), valid, 400, "idempotency-key-invalid"},
			{"long key", "POST", "/v1/orders", s.keys[0], k(strings.Repeat("x", 256)), valid, 400, "idempotency-key-invalid"},
			{"malformed JSON", "POST", "/v1/orders", s.keys[0], k(newKey()), []byte(`{"currency":`), 400, "invalid-request"},
			{"unknown field", "POST", "/v1/orders", s.keys[0], k(newKey()), []byte(`{"coupon":"x"}`), 400, "invalid-request"},
			{"no items", "POST", "/v1/orders", s.keys[0], k(newKey()), noItems, 400, "invalid-request"},
			{"amount out of range", "POST", "/v1/orders", s.keys[0], k(newKey()), negative, 400, "invalid-request"},
			{"card number", "POST", "/v1/orders", s.keys[0], k(newKey()), orderBody("4242424242424242"), 400, "invalid-request"},
			{"no API key", "POST", "/v1/orders", "", k(newKey()), valid, 401, "unauthorized"},
			{"unknown API key", "POST", "/v1/orders", "wp_nope", k(newKey()), valid, 401, "unauthorized"},
			{"unknown order", "GET", "/v1/orders/ord_nope", s.keys[0], nil, nil, 404, "not-found"},
			{"too large", "POST", "/v1/orders", s.keys[0], k(newKey()), huge, 413, "request-too-large"},
			{"key reused", "POST", "/v1/orders", s.keys[0], k(taken), declined, 422, "idempotency-key-reused"},
		}
		for _, tc := range cases {
			r := s.do(tc.method, tc.path, tc.apiKey, tc.header, tc.body)
			wantProblem(t, tc.name, r, tc.status, tc.problem)
			if tc.header != nil && r.Header.Get("Idempotent-Replayed") != "false" {
				t.Errorf("%s: Idempotent-Replayed %q, want false",
					tc.name, r.Header.Get("Idempotent-Replayed"))
			}
		}
		if s.countOrders() != before || len(s.provider.Ledger()) != ledgerBefore ||
			s.countKeys() != keysBefore {
			t.Errorf("refused requests wrote something: orders %d -> %d, payments %d -> %d, "+
				"idempotency keys %d -> %d", before, s.countOrders(), ledgerBefore,
				len(s.provider.Ledger()), keysBefore, s.countKeys())
		}
	})
}

func TestKeyInUseWhileFirstRequestRuns(t *testing.T) {
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{})
	_ = s.provider.SetFaults(fakeprovider.Faults{Mode: fakeprovider.ModeNormal, LatencyMS: 800})
	key := newKey()
	first := make(chan response)
	go func() { first <- s.postOrder(key, "pm_card_visa") }()

	eventually(t, 5*time.Second, "first request in flight", func() bool { return s.countOrders() == 1 })
	r := s.postOrder(key, "pm_card_visa")
	wantProblem(t, "in use", r, 409, "idempotency-key-in-use")
	if r.Header.Get("Retry-After") == "" {
		t.Error("409 without Retry-After")
	}
	if got := <-first; got.Status != 201 {
		t.Fatalf("first: %d", got.Status)
	}
	if r := s.postOrder(key, "pm_card_visa"); r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("after: %d replayed %q", r.Status, r.Header.Get("Idempotent-Replayed"))
	}
}

func TestRateLimitIsNotStored(t *testing.T) {
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{})
	// Exhaust the burst with cheap reads, then the write is refused.
	var limited response
	for i := 0; i < 1000; i++ {
		limited = s.do("GET", "/v1/orders/ord_x", s.keys[0], nil, nil)
		if limited.Status == 429 {
			break
		}
	}
	wantProblem(t, "rate limited", limited, 429, "rate-limited")
	if limited.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	key := newKey()
	r := s.postOrder(key, "pm_card_visa")
	if r.Status == 429 {
		time.Sleep(time.Duration(1100) * time.Millisecond)
		r = s.postOrder(key, "pm_card_visa")
	}
	if r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "false" {
		t.Errorf("after the limit: %d replayed %q, want a first 201", r.Status,
			r.Header.Get("Idempotent-Replayed"))
	}
}

func wantProblem(t *testing.T, name string, r response, status int, problem string) {
	t.Helper()
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	err := json.Unmarshal(r.Body, &p)
	switch {
	case r.Status != status:
		t.Errorf("%s: status %d, want %d; %s", name, r.Status, status, r.Body)
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json"):
		t.Errorf("%s: Content-Type %q", name, r.Header.Get("Content-Type"))
	case err != nil || p.Type != "/problems/"+problem || p.Status != status ||
		p.Title == "" || p.Detail == "":
		t.Errorf("%s: problem %+v (%v), want type /problems/%s", name, p, err, problem)
	}
}

func TestProblemPagesAreServed(t *testing.T) {
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{})
	for _, name := range []string{"idempotency-key-missing", "idempotency-key-in-use",
		"idempotency-key-reused", "invalid-request", "unauthorized", "not-found",
		"request-too-large", "rate-limited", "order-not-payable", "payments-unavailable",
		"overloaded"} {
		r := s.do("GET", "/problems/"+name, "", nil, nil)
		if r.Status != 200 || !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("/problems/%s: %d %s", name, r.Status, r.Header.Get("Content-Type"))
		}
	}
}

// clock is a time source that a test moves forward.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

func TestLateRetryAfterRetentionNeverCreatesASecondOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		clk := &clock{}
		s := startService(t, dbURL, serviceOptions{now: clk.Now, reapEvery: 50 * time.Millisecond})
		key := newKey()
		first := s.postOrder(key, "pm_card_visa")
		if first.Status != http.StatusCreated {
			t.Fatalf("first: %d", first.Status)
		}

		clk.Advance(25 * time.Hour)
		eventually(t, 5*time.Second, "stored response reaped", func() bool {
			var n int
			err := s.db.SQL.QueryRow(`SELECT count(*) FROM idempotency_keys
				WHERE state = 'expired'`).Scan(&n)
			return err == nil && n == 1
		})

		late := s.postOrder(key, "pm_card_visa")
		if late.Status != http.StatusCreated || late.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("late retry: %d replayed %q, want the order as it is, 201",
				late.Status, late.Header.Get("Idempotent-Replayed"))
		}
		if late.order(t).ID != first.order(t).ID || late.order(t).Status != "completed" {
			t.Errorf("late retry body %s, want order %s", late.Body, first.order(t).ID)
		}
		wantProblem(t, "late retry with another body", s.postOrder(key, "pm_card_chargeDeclined"),
			http.StatusUnprocessableEntity, "idempotency-key-reused")
		if s.countOrders() != 1 || len(s.provider.Ledger()) != 1 {
			t.Errorf("orders %d, payments %d; want 1 and 1", s.countOrders(), len(s.provider.Ledger()))
		}
	})
}

func TestReadyOnceDatabaseAndQueueWork(t *testing.T) {
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{})
	eventually(t, 5*time.Second, "ready", func() bool {
		return s.do("GET", "/readyz", "", nil, nil).Status == http.StatusOK
	})
	if r := s.do("GET", "/healthz", "", nil, nil); r.Status != http.StatusOK {
		t.Errorf("healthz: %d", r.Status)
	}
}
