package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/fakeprovider"
	"github.com/writepath/writepath/internal/store/storetest"
)

// remoteProvider is the fake provider running in a process of its own,
// driven over HTTP as an operator would.
type remoteProvider struct {
	t   *testing.T
	url string
}

func startRemoteProvider(t *testing.T) *remoteProvider {
	c := startChild(t, childConfig{Role: "provider"})
	return &remoteProvider{t: t, url: c.url}
}

func (p *remoteProvider) setFaults(f fakeprovider.Faults) {
	p.t.Helper()
	body, _ := json.Marshal(f)
	req, _ := http.NewRequest("PUT", p.url+"/_control/faults", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		p.t.Fatalf("set faults: %d", resp.StatusCode)
	}
}

func (p *remoteProvider) ledger() []fakeprovider.LedgerEntry {
	p.t.Helper()
	resp, err := http.Get(p.url + "/_control/ledger")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data []fakeprovider.LedgerEntry `json:"data"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &out); err != nil {
		p.t.Fatalf("ledger: %v %s", err, body)
	}
	return out.Data
}

// testBreaker opens after three failures out of at least three calls and
// probes again after half a second.
var testBreaker = breaker.Options{MinRequests: 3, FailureRate: 0.5,
	OpenFor: 500 * time.Millisecond, Jitter: -1, SuccessThreshold: 1}

// TestEveryFaultModeStaysTruthful breaks a provider that runs in its own
// process in each fault mode, sends a burst of orders, and checks what the
// service says and does: no order fails unless declined, the breaker opens
// and then answers without calling the provider, and once the provider heals
// every queued and unknown order completes with exactly one charge.
func TestEveryFaultModeStaysTruthful(t *testing.T) {
	for _, mode := range []string{fakeprovider.ModeDown, fakeprovider.ModeHang,
		fakeprovider.ModeError, fakeprovider.ModeRateLimited, fakeprovider.ModeDropAfterCharge} {
		t.Run(mode, func(t *testing.T) {
			prov := startRemoteProvider(t)
			q := fastQueue
			s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{
				providerURL: prov.url, queue: q, provBreaker: testBreaker})
			prov.setFaults(fakeprovider.Faults{Mode: mode})

			var ids []string
			var openAnswers []time.Duration
			for i := range 6 {
				start := time.Now()
				r := s.postOrder(newKey(), "pm_card_visa")
				took := time.Since(start)
				o := r.order(t)
				if r.Status != http.StatusAccepted || o.Status == "failed" || o.Status == "completed" {
					t.Fatalf("order %d while %s: %d %s", i, mode, r.Status, r.Body)
				}
				ids = append(ids, o.ID)
				if i >= 4 { // the breaker opened after three failures
					openAnswers = append(openAnswers, took)
				}
			}
			if st := s.breakerState("provider"); st != "open" && st != "half_open" {
				t.Fatalf("provider breaker %q, want open: %s", st, s.status())
			}
			t.Logf("%s: answers with the breaker open took %v (provider timeout 2s)",
				mode, openAnswers)

			prov.setFaults(fakeprovider.Faults{Mode: fakeprovider.ModeNormal})
			for _, id := range ids {
				eventually(t, 30*time.Second, "order "+id+" completed", func() bool {
					return s.orderStatus(id) == "completed"
				})
			}
			charges := map[string]int{}
			for _, e := range prov.ledger() {
				if e.Status == "succeeded" {
					charges[e.OrderID]++
				}
			}
			for _, id := range ids {
				if charges[id] != 1 {
					t.Errorf("order %s charged %d times, want once", id, charges[id])
				}
			}
		})
	}
}

func TestOpenBreakerAnswersWithoutCallingTheProvider(t *testing.T) {
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{queue: fastQueue})
	s.switchBreaker("provider", "open")
	before := len(s.provider.Ledger())

	r := s.postOrder(newKey(), "pm_card_visa")
	o := r.order(t)
	if r.Status != http.StatusAccepted || o.Status != "queued" || o.Payment.Status != "deferred" {
		t.Fatalf("with the breaker held open: %d %s", r.Status, r.Body)
	}
	if got := len(s.provider.Ledger()); got != before {
		t.Fatalf("the provider saw %d new payments while the breaker was open", got-before)
	}
	if !strings.Contains(string(s.status()), `"forced":true`) {
		t.Errorf("status does not show the forced breaker: %s", s.status())
	}
	metrics := string(s.do("GET", "/metrics", "", nil, nil).Body)
	for _, series := range []string{`writepath_breaker_next_probe_seconds{breaker="provider"}`,
		`writepath_provider_requests_total{operation="create_payment",outcome="breaker_open"} 1`} {
		if !strings.Contains(metrics, series) {
			t.Errorf("metrics lack %s", series)
		}
	}

	s.switchBreaker("provider", "auto")
	eventually(t, 10*time.Second, "charged after the breaker closed", func() bool {
		return s.orderStatus(o.ID) == "completed"
	})
}

func TestRejectPolicyWritesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		s := startService(t, dbURL, serviceOptions{policy: "reject", queue: fastQueue})

		// The provider refuses before executing: the order is undone.
		_ = s.provider.SetFaults(fakeprovider.Faults{Mode: fakeprovider.ModeDown})
		key := newKey()
		r := s.postOrder(key, "pm_card_visa")
		wantProblem(t, "provider down", r, http.StatusServiceUnavailable, "payments-unavailable")
		if r.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		if n, k := s.countOrders(), s.countKeys(); n != 0 || k != 0 {
			t.Fatalf("orders %d, idempotency keys %d after a rejection; want none", n, k)
		}

		// With the breaker open the refusal comes before anything is written.
		s.switchBreaker("provider", "open")
		wantProblem(t, "breaker open", s.postOrder(newKey(), "pm_card_visa"),
			http.StatusServiceUnavailable, "payments-unavailable")

		// The same key works once the provider is back.
		s.switchBreaker("provider", "auto")
		_ = s.provider.SetFaults(fakeprovider.Faults{Mode: fakeprovider.ModeNormal})
		if r := s.postOrder(key, "pm_card_visa"); r.Status != http.StatusCreated {
			t.Fatalf("retry after recovery: %d %s", r.Status, r.Body)
		}
		if n := s.countOrders(); n != 1 {
			t.Errorf("orders %d, want 1", n)
		}
	})
}

func TestQueuedPaymentFailsAfterTheRetryWindow(t *testing.T) {
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{queue: fastQueue,
		retryWindow: 300 * time.Millisecond})
	_ = s.provider.SetFaults(fakeprovider.Faults{Mode: fakeprovider.ModeDown})
	o := s.postOrder(newKey(), "pm_card_visa").order(t)
	eventually(t, 10*time.Second, "order failed", func() bool {
		return s.orderStatus(o.ID) == "failed"
	})
	got := s.do("GET", "/v1/orders/"+o.ID, s.keys[0], nil, nil)
	if !strings.Contains(string(got.Body), `"code":"payment_unavailable"`) ||
		!strings.Contains(string(got.Body), `"status":"abandoned"`) {
		t.Errorf("failed order %s, want payment_unavailable and payment abandoned", got.Body)
	}
	if n := len(s.provider.Ledger()); n != 0 {
		t.Errorf("provider has %d payments for an order never sent", n)
	}
}

func TestDeclinedOrderCanBePaidAgainOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		s := startService(t, dbURL, serviceOptions{queue: fastQueue})
		o := s.postOrder(newKey(), "pm_card_chargeDeclined").order(t)
		path := "/v1/orders/" + o.ID + "/payments"
		body := []byte(`{"payment_method":"pm_card_visa"}`)

		// Racing attempts with different keys: one is in flight, the others
		// find the order not payable.
		_ = s.provider.SetFaults(fakeprovider.Faults{Mode: fakeprovider.ModeNormal, LatencyMS: 200})
		var wg sync.WaitGroup
		statuses := make([]int, 6)
		for i := range statuses {
			wg.Go(func() {
				statuses[i] = s.do("POST", path, s.keys[0],
					http.Header{"Idempotency-Key": {newKey()}}, body).Status
			})
		}
		wg.Wait()
		sort.Ints(statuses)
		if fmt.Sprint(statuses) != "[201 409 409 409 409 409]" {
			t.Fatalf("racing payments: %v, want one 201 and the rest 409", statuses)
		}

		got := s.do("GET", "/v1/orders/"+o.ID, s.keys[0], nil, nil)
		if !strings.Contains(string(got.Body), `"attempt":2`) ||
			got.order(t).Status != "completed" || got.order(t).Failure != nil {
			t.Errorf("order after the new attempt: %s", got.Body)
		}
		ledger := s.provider.Ledger()
		if len(ledger) != 2 || ledger[0].IdempotencyKey == ledger[1].IdempotencyKey {
			t.Errorf("ledger %+v: want the decline and one charge, with their own keys", ledger)
		}

		again := s.do("POST", path, s.keys[0], http.Header{"Idempotency-Key": {newKey()}}, body)
		wantProblem(t, "completed order", again, http.StatusConflict, "order-not-payable")
		other := s.do("POST", path, s.keys[1], http.Header{"Idempotency-Key": {newKey()}}, body)
		wantProblem(t, "another tenant's order", other, http.StatusNotFound, "not-found")
	})
}

func (s *service) orderStatus(id string) string {
	s.t.Helper()
	return s.do("GET", "/v1/orders/"+id, s.keys[0], nil, nil).order(s.t).Status
}

func (s *service) switchBreaker(name, state string) {
	s.t.Helper()
	r := s.do("PUT", "/v1/breakers/"+name, s.keys[0], nil, []byte(`{"state":"`+state+`"}`))
	if r.Status != http.StatusOK {
		s.t.Fatalf("switch breaker %s %s: %d %s", name, state, r.Status, r.Body)
	}
}

// breakerState reads a breaker's state from /v1/status.
func (s *service) breakerState(name string) string {
	s.t.Helper()
	var st struct {
		Breakers []struct{ Name, State string } `json:"breakers"`
	}
	if err := json.Unmarshal(s.status(), &st); err != nil {
		s.t.Fatal(err)
	}
	for _, b := range st.Breakers {
		if b.Name == name {
			return b.State
		}
	}
	return ""
}
