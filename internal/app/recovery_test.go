package app_test

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/writepath/writepath/internal/fakeprovider"
	"github.com/writepath/writepath/internal/order"
	"github.com/writepath/writepath/internal/store/storetest"
)

// TestUnsettledPaymentsAreFinishedWhenTheProviderHeals breaks the provider in
// each way that leaves a payment unsettled, checks that the order says so
// truthfully (not sent: queued/deferred; sent without an answer:
// processing/unknown), then heals the provider and checks that the
// background finishes the order with exactly one charge.
func TestUnsettledPaymentsAreFinishedWhenTheProviderHeals(t *testing.T) {
	cases := []struct {
		mode          string
		status        order.Status
		payment       order.PaymentStatus
		ledgerOnBreak int // payments the provider recorded while broken
	}{
		{fakeprovider.ModeDown, order.Queued, order.PaymentDeferred, 0},
		{fakeprovider.ModeRateLimited, order.Queued, order.PaymentDeferred, 0},
		{fakeprovider.ModeError, order.Processing, order.PaymentUnknown, 0},
		{fakeprovider.ModeHang, order.Processing, order.PaymentUnknown, 0},
		{fakeprovider.ModeDropAfterCharge, order.Processing, order.PaymentUnknown, 1},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{
				lease: 5 * time.Second, completeEvery: 100 * time.Millisecond})
			if err := s.provider.SetFaults(fakeprovider.Faults{Mode: tc.mode}); err != nil {
				t.Fatal(err)
			}

			key := newKey()
			r := s.postOrder(key, "pm_card_visa")
			if r.Status != http.StatusAccepted || r.Header.Get("Idempotent-Replayed") != "false" {
				t.Fatalf("while broken: %d replayed %q, want a first 202", r.Status,
					r.Header.Get("Idempotent-Replayed"))
			}
			o := r.order(t)
			if o.Status != string(tc.status) || o.Payment.Status != string(tc.payment) {
				t.Fatalf("while broken: %s/%s, want %s/%s", o.Status, o.Payment.Status,
					tc.status, tc.payment)
			}
			if n := len(s.provider.Ledger()); n != tc.ledgerOnBreak {
				t.Fatalf("ledger while broken: %d payments, want %d", n, tc.ledgerOnBreak)
			}

			_ = s.provider.SetFaults(fakeprovider.Faults{Mode: fakeprovider.ModeNormal})
			eventually(t, 20*time.Second, "order completed", func() bool {
				got := s.do("GET", "/v1/orders/"+o.ID, s.keys[0], nil, nil)
				return got.order(t).Status == "completed"
			})
			ledger := s.provider.Ledger()
			if len(ledger) != 1 || ledger[0].Status != "succeeded" {
				t.Fatalf("ledger %+v, want one succeeded payment", ledger)
			}

			// The request finished when the payment was handed to the
			// background: a retry gets that first answer again, byte for byte.
			again := s.postOrder(key, "pm_card_visa")
			if again.Status != http.StatusAccepted || again.Header.Get("Idempotent-Replayed") != "true" ||
				!bytes.Equal(again.Body, r.Body) {
				t.Errorf("retry after healing: %d replayed %q, want the first 202 again",
					again.Status, again.Header.Get("Idempotent-Replayed"))
			}
		})
	}
}

func TestEventsStreamTheOrderUntilItIsFinal(t *testing.T) {
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{
		completeEvery: 100 * time.Millisecond})
	_ = s.provider.SetFaults(fakeprovider.Faults{Mode: fakeprovider.ModeDown})
	r := s.postOrder(newKey(), "pm_card_visa")
	o := r.order(t)
	if o.Status != "queued" {
		t.Fatalf("order %s, want queued", o.Status)
	}

	req, _ := http.NewRequest("GET", s.url+"/v1/orders/"+o.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+s.keys[0])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}

	events := make(chan sseEvent, 16)
	go readEvents(resp, events)
	first := <-events
	if first.order(t).Status != "queued" || first.id == "" {
		t.Fatalf("first event %+v, want the queued order with an id", first)
	}

	_ = s.provider.SetFaults(fakeprovider.Faults{Mode: fakeprovider.ModeNormal})
	var last sseEvent
	for e := range events { // the stream ends after the final state
		last = e
	}
	if last.order(t).Status != "completed" {
		t.Fatalf("last event %+v, want completed", last)
	}

	// Resuming with the last id sends nothing new and ends at once.
	req, _ = http.NewRequest("GET", s.url+"/v1/orders/"+o.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+s.keys[0])
	req.Header.Set("Last-Event-ID", last.id)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	resumed := make(chan sseEvent, 4)
	go readEvents(resp2, resumed)
	for e := range resumed {
		t.Errorf("event after Last-Event-ID %s: %+v", last.id, e)
	}

	other := s.do("GET", "/v1/orders/"+o.ID+"/events", s.keys[1], nil, nil)
	wantProblem(t, "another tenant's events", other, 404, "not-found")
}

type sseEvent struct{ id, data string }

func (e sseEvent) order(t *testing.T) orderView {
	t.Helper()
	return response{Body: []byte(e.data)}.order(t)
}

func readEvents(resp *http.Response, out chan<- sseEvent) {
	defer close(out)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var e sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			e.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			e.data = strings.TrimPrefix(line, "data: ")
		case line == "" && e.data != "":
			out <- e
			e = sseEvent{}
		}
	}
}

func TestShutdownFinishesInFlightRequests(t *testing.T) {
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{})
	_ = s.provider.SetFaults(fakeprovider.Faults{Mode: fakeprovider.ModeNormal, LatencyMS: 700})

	key := newKey()
	answered := make(chan response, 1)
	go func() { answered <- s.postOrder(key, "pm_card_visa") }()
	eventually(t, 5*time.Second, "request in flight", func() bool { return s.countOrders() == 1 })

	s.Stop() // graceful: waits for the request
	r := <-answered
	if r.Status != http.StatusCreated {
		t.Fatalf("in-flight request: %d %s, want 201", r.Status, r.Body)
	}
	var status string
	err := s.db.SQL.QueryRowContext(context.Background(), `SELECT status FROM orders`).Scan(&status)
	if err != nil || status != string(order.Completed) {
		t.Errorf("stored order %q, %v; want completed", status, err)
	}
	if _, err := doRaw(s.url, s.keys[0], newKey(), orderBody("pm_card_visa")); err == nil {
		t.Error("the stopped service still answers")
	}
}
