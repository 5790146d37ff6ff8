package provider_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/writepath/writepath/internal/fakeprovider"
	"github.com/writepath/writepath/internal/provider"
)

// setup serves a new fake provider over real HTTP for the test's lifetime and
// returns a client of it.
func setup(t *testing.T) (*fakeprovider.Server, *httptest.Server, *provider.Client) {
	t.Helper()
	fake := fakeprovider.New(fakeprovider.Options{})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	t.Cleanup(fake.Close) // runs first: releases hung handlers so srv.Close returns
	return fake, srv, newClient(t, srv.URL, srv.Client())
}

// newClient returns a client of the provider at url.
func newClient(t *testing.T, url string, hc *http.Client) *provider.Client {
	t.Helper()
	c, err := provider.New(provider.Options{BaseURL: url, HTTPClient: hc})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

// visa is a payment of 2500 usd that succeeds.
func visa(key string) provider.PaymentParams {
	return provider.PaymentParams{IdempotencyKey: key, Amount: 2500, Currency: "usd",
		PaymentMethod: fakeprovider.TokenVisa, OrderID: "ord_1"}
}

// setFaults switches the fake's faults.
func setFaults(t *testing.T, fake *fakeprovider.Server, mode string) {
	t.Helper()
	if err := fake.SetFaults(fakeprovider.Faults{Mode: mode}); err != nil {
		t.Fatalf("set faults: %v", err)
	}
}

// onlyEntry returns the fake ledger's single entry.
func onlyEntry(t *testing.T, fake *fakeprovider.Server) fakeprovider.LedgerEntry {
	t.Helper()
	ledger := fake.Ledger()
	if len(ledger) != 1 {
		t.Fatalf("ledger has %d entries, want 1: %+v", len(ledger), ledger)
	}
	return ledger[0]
}

// checkEmptyLedger fails the test if the fake recorded any payment.
func checkEmptyLedger(t *testing.T, fake *fakeprovider.Server) {
	t.Helper()
	if ledger := fake.Ledger(); len(ledger) != 0 {
		t.Fatalf("ledger: got %+v, want none", ledger)
	}
}

// checkOnly fails the test unless err matches want and none of the other
// outcomes.
func checkOnly(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error: got %v, want %v", err, want)
	}
	for _, other := range []error{provider.ErrNotSent, provider.ErrUnknownOutcome,
		provider.ErrInvalidRequest} {
		if other != want && errors.Is(err, other) {
			t.Fatalf("error: got %v, which also matches %v", err, other)
		}
	}
}

func TestCreatePaymentSucceedsWithVisa(t *testing.T) {
	_, _, c := setup(t)

	p, err := c.CreatePayment(t.Context(), visa("key-1"))

	if err != nil {
		t.Fatalf("create payment: %v", err)
	}
	want := provider.Payment{ID: p.ID, Status: provider.StatusSucceeded,
		PaymentMethod: fakeprovider.TokenVisa, OrderID: "ord_1", Currency: "usd", Amount: 2500,
		Created: p.Created}
	if p != want || p.ID == "" || p.Created.IsZero() {
		t.Fatalf("payment: got %+v, want %+v with an id and a time", p, want)
	}
}

func TestCreatePaymentReportsDeclinesWithTheirCode(t *testing.T) {
	tests := []struct{ token, wantCode string }{
		{fakeprovider.TokenDeclined, "generic_decline"},
		{fakeprovider.TokenInsufficientFunds, "insufficient_funds"},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			fake, _, c := setup(t)
			params := visa("key-1")
			params.PaymentMethod = tt.token

			_, err := c.CreatePayment(t.Context(), params)

			var d *provider.DeclineError
			if !errors.As(err, &d) {
				t.Fatalf("error: got %v, want a *DeclineError", err)
			}
			if d.Code != tt.wantCode || d.Message == "" || d.Payment.Status != "declined" ||
				d.Payment.DeclineCode != tt.wantCode || d.Payment.ID != onlyEntry(t, fake).ID {
				t.Fatalf("decline: got %+v, want code %s and the ledger's payment", d, tt.wantCode)
			}
			for _, other := range []error{provider.ErrNotSent, provider.ErrUnknownOutcome,
				provider.ErrInvalidRequest} {
				if errors.Is(err, other) {
					t.Fatalf("decline %v also matches %v", err, other)
				}
			}
		})
	}
}

func TestCreatePaymentWithUnknownTokenIsAnInvalidRequest(t *testing.T) {
	fake, _, c := setup(t)
	params := visa("key-1")
	params.PaymentMethod = "pm_card_stolen"

	_, err := c.CreatePayment(t.Context(), params)

	checkOnly(t, err, provider.ErrInvalidRequest)
	var apiErr *provider.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 ||
		apiErr.Type != provider.TypeInvalidRequest || apiErr.Message == "" {
		t.Fatalf("error: got %#v, want a 400 invalid_request_error with a message", apiErr)
	}
	checkEmptyLedger(t, fake)
}

func TestCreatePaymentWithoutKeyIsRefusedBeforeSending(t *testing.T) {
	fake, _, c := setup(t)

	_, err := c.CreatePayment(t.Context(), visa(""))

	checkOnly(t, err, provider.ErrInvalidRequest)
	checkEmptyLedger(t, fake)
}

func TestRetryWithSameKeyReturnsTheSamePayment(t *testing.T) {
	fake, _, c := setup(t)
	first, err := c.CreatePayment(t.Context(), visa("key-1"))
	if err != nil {
		t.Fatalf("first: %v", err)
	}

	again, err := c.CreatePayment(t.Context(), visa("key-1"))

	if err != nil || again != first {
		t.Fatalf("retry: got %+v, %v, want %+v", again, err, first)
	}
	if e := onlyEntry(t, fake); e.Requests != 2 || e.ID != first.ID {
		t.Fatalf("ledger entry: got %+v, want %s with 2 requests", e, first.ID)
	}
}

func TestSameKeyWithOtherAmountIsAnInvalidRequest(t *testing.T) {
	fake, _, c := setup(t)
	if _, err := c.CreatePayment(t.Context(), visa("key-1")); err != nil {
		t.Fatalf("first: %v", err)
	}
	other := visa("key-1")
	other.Amount = 9900

	_, err := c.CreatePayment(t.Context(), other)

	checkOnly(t, err, provider.ErrInvalidRequest)
	var apiErr *provider.APIError
	if !errors.As(err, &apiErr) || apiErr.Type != provider.TypeIdempotency {
		t.Fatalf("error: got %v, want an idempotency_error", err)
	}
	if e := onlyEntry(t, fake); e.Amount != 2500 {
		t.Fatalf("ledger entry: got %+v, want the first amount only", e)
	}
}

func TestConcurrentRetriesOfOneKeyChargeOnce(t *testing.T) {
	fake, _, c := setup(t)
	const n = 50

	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			p, err := c.CreatePayment(t.Context(), visa("key-race"))
			if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
			ids[i] = p.ID
		})
	}
	wg.Wait()

	for i, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("request %d: got payment %q, want %q like request 0", i, id, ids[0])
		}
	}
	if e := onlyEntry(t, fake); e.Requests != n || e.ID != ids[0] {
		t.Fatalf("ledger entry: got %+v, want %s with %d requests", e, ids[0], n)
	}
}

func TestDownIsNotSent(t *testing.T) {
	fake, _, c := setup(t)
	setFaults(t, fake, fakeprovider.ModeDown)

	_, err := c.CreatePayment(t.Context(), visa("key-1"))

	checkOnly(t, err, provider.ErrNotSent)
	var apiErr *provider.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 {
		t.Fatalf("cause: got %v, want the 503 answer", err)
	}
	checkEmptyLedger(t, fake)
}

func TestRateLimitedIsNotSentWithRetryAfter(t *testing.T) {
	fake, _, c := setup(t)
	setFaults(t, fake, fakeprovider.ModeRateLimited)

	_, err := c.CreatePayment(t.Context(), visa("key-1"))

	checkOnly(t, err, provider.ErrNotSent)
	var notSent *provider.NotSentError
	if !errors.As(err, &notSent) || notSent.RetryAfter != time.Second {
		t.Fatalf("error: got %#v, want RetryAfter 1s", notSent)
	}
	checkEmptyLedger(t, fake)
}

func TestServerErrorIsUnknownOutcome(t *testing.T) {
	fake, _, c := setup(t)
	setFaults(t, fake, fakeprovider.ModeError)

	_, err := c.CreatePayment(t.Context(), visa("key-1"))

	// The fake executed nothing, but a real provider may have: the client
	// cannot know.
	checkOnly(t, err, provider.ErrUnknownOutcome)
	checkEmptyLedger(t, fake)
}

func TestHangPastTheContextDeadlineIsUnknownOutcome(t *testing.T) {
	fake, _, c := setup(t)
	setFaults(t, fake, fakeprovider.ModeHang)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()

	_, err := c.CreatePayment(ctx, visa("key-1"))

	checkOnly(t, err, provider.ErrUnknownOutcome)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error: got %v, want it to wrap the deadline", err)
	}
}

func TestHangPastTheClientTimeoutIsUnknownOutcome(t *testing.T) {
	fake, srv, _ := setup(t)
	setFaults(t, fake, fakeprovider.ModeHang)
	hc := srv.Client()
	hc.Timeout = 100 * time.Millisecond
	c := newClient(t, srv.URL, hc)

	_, err := c.CreatePayment(t.Context(), visa("key-1"))

	checkOnly(t, err, provider.ErrUnknownOutcome)
}

func TestDropAfterChargeIsUnknownButTheRetryFindsTheCharge(t *testing.T) {
	fake, _, c := setup(t)
	setFaults(t, fake, fakeprovider.ModeDropAfterCharge)

	_, err := c.CreatePayment(t.Context(), visa("key-1"))

	checkOnly(t, err, provider.ErrUnknownOutcome)
	charged := onlyEntry(t, fake)
	if charged.Status != "succeeded" || charged.Requests != 1 {
		t.Fatalf("ledger entry: got %+v, want one succeeded request", charged)
	}

	setFaults(t, fake, fakeprovider.ModeNormal)
	p, err := c.CreatePayment(t.Context(), visa("key-1"))
	if err != nil || p.ID != charged.ID || p.Status != provider.StatusSucceeded {
		t.Fatalf("retry: got %+v, %v, want %s succeeded", p, err, charged.ID)
	}
	if e := onlyEntry(t, fake); e.Requests != 2 {
		t.Fatalf("ledger entry: got %+v, want 2 requests", e)
	}
}

func TestDropAfterChargeOnAReusedConnectionIsNotResent(t *testing.T) {
	fake, _, c := setup(t)
	if _, err := c.CreatePayment(t.Context(), visa("key-warm")); err != nil {
		t.Fatalf("warm up: %v", err)
	}
	setFaults(t, fake, fakeprovider.ModeDropAfterCharge)

	// net/http resends a request with an Idempotency-Key that fails on a
	// reused connection, unless the client prevents it.
	_, err := c.CreatePayment(t.Context(), visa("key-1"))

	checkOnly(t, err, provider.ErrUnknownOutcome)
	for _, e := range fake.Ledger() {
		if e.IdempotencyKey == "key-1" && e.Requests != 1 {
			t.Fatalf("ledger entry: got %+v, want 1 request", e)
		}
	}
}

func TestDropAfterChargeOverHTTP2IsUnknownOutcome(t *testing.T) {
	fake := fakeprovider.New(fakeprovider.Options{})
	srv := httptest.NewUnstartedServer(fake)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, srv.Client())
	setFaults(t, fake, fakeprovider.ModeDropAfterCharge)

	_, err := c.CreatePayment(t.Context(), visa("key-1"))

	checkOnly(t, err, provider.ErrUnknownOutcome)
	if e := onlyEntry(t, fake); e.Status != "succeeded" {
		t.Fatalf("ledger entry: got %+v, want succeeded", e)
	}
}

func TestClosedServerIsNotSent(t *testing.T) {
	_, srv, c := setup(t)
	srv.Close()

	_, err := c.CreatePayment(t.Context(), visa("key-1"))

	checkOnly(t, err, provider.ErrNotSent)
}

func TestContextEndedBeforeSendingIsNotSent(t *testing.T) {
	fake, _, c := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	_, err := c.CreatePayment(ctx, visa("key-1"))

	checkOnly(t, err, provider.ErrNotSent)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error: got %v, want it to wrap the cancellation", err)
	}
	checkEmptyLedger(t, fake)
}

func TestGetPaymentReadsAPaymentBack(t *testing.T) {
	_, _, c := setup(t)
	created, err := c.CreatePayment(t.Context(), visa("key-1"))
	if err != nil {
		t.Fatalf("create payment: %v", err)
	}

	got, err := c.GetPayment(t.Context(), created.ID)

	if err != nil || got != created {
		t.Fatalf("get payment: got %+v, %v, want %+v", got, err, created)
	}
}

func TestGetPaymentOfUnknownIDIsNotFound(t *testing.T) {
	_, _, c := setup(t)

	_, err := c.GetPayment(t.Context(), "pi_nope")

	checkOnly(t, err, provider.ErrInvalidRequest)
	if !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("error: got %v, want ErrNotFound", err)
	}
}

func TestFindPaymentsReturnsAnOrdersPaymentsOldestFirst(t *testing.T) {
	_, _, c := setup(t)
	declined := visa("key-1")
	declined.PaymentMethod = fakeprovider.TokenDeclined
	_, err := c.CreatePayment(t.Context(), declined)
	var d *provider.DeclineError
	if !errors.As(err, &d) {
		t.Fatalf("first: got %v, want a decline", err)
	}
	paid, err := c.CreatePayment(t.Context(), visa("key-2"))
	if err != nil {
		t.Fatalf("second: %v", err)
	}
	other := visa("key-3")
	other.OrderID = "ord_2"
	if _, err := c.CreatePayment(t.Context(), other); err != nil {
		t.Fatalf("other order: %v", err)
	}

	got, err := c.FindPayments(t.Context(), "ord_1")

	if err != nil || len(got) != 2 || got[0] != d.Payment || got[1] != paid {
		t.Fatalf("find payments: got %+v, %v, want [%+v %+v]", got, err, d.Payment, paid)
	}
}

func TestFindPaymentsOfOrderWithoutPaymentsIsEmpty(t *testing.T) {
	_, _, c := setup(t)

	got, err := c.FindPayments(t.Context(), "ord_none")

	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("find payments: got %#v, %v, want an empty slice", got, err)
	}
}

func TestNewRefusesABadBaseURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://host", "http://", "http://h\x7f"} {
		if _, err := provider.New(provider.Options{BaseURL: u}); err == nil {
			t.Fatalf("New(%q): got no error, want one", u)
		}
	}
}
