package fakeprovider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/writepath/writepath/internal/fakeprovider"
)

// setup serves a new fake provider over real HTTP for the test's lifetime.
func setup(t *testing.T, opts fakeprovider.Options) (*fakeprovider.Server, *httptest.Server) {
	t.Helper()
	fake := fakeprovider.New(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	t.Cleanup(fake.Close) // runs first: releases hung handlers so srv.Close returns
	return fake, srv
}

// reply is an answer read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// send makes one request and reads its answer, failing the test on a
// transport error.
func send(t *testing.T, c *http.Client, req *http.Request) reply {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return reply{resp.StatusCode, resp.Header, body}
}

// createRequest builds a create with key (none if empty) and body.
func createRequest(t *testing.T, url, key, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/payment_intents",
		strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return req
}

// create posts a create with key and body.
func create(t *testing.T, srv *httptest.Server, key, body string) reply {
	t.Helper()
	return send(t, srv.Client(), createRequest(t, srv.URL, key, body))
}

// get reads path.
func get(t *testing.T, srv *httptest.Server, path string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return send(t, srv.Client(), req)
}

// putFaults switches faults through the control API.
func putFaults(t *testing.T, srv *httptest.Server, body string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, srv.URL+"/_control/faults",
		strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return send(t, srv.Client(), req)
}

// setFaults switches faults in process.
func setFaults(t *testing.T, fake *fakeprovider.Server, f fakeprovider.Faults) {
	t.Helper()
	if err := fake.SetFaults(f); err != nil {
		t.Fatalf("set faults: %v", err)
	}
}

// paymentBody is a create body for token, amount and order.
func paymentBody(token string, amount int64, orderID string) string {
	return `{"amount": ` + itoa(amount) + `, "currency": "usd", "payment_method": "` +
		token + `", "metadata": {"order_id": "` + orderID + `"}}`
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// intent is the part of a payment intent the tests look at.
type intent struct {
	ID               string            `json:"id"`
	Amount           int64             `json:"amount"`
	Currency         string            `json:"currency"`
	Status           string            `json:"status"`
	PaymentMethod    string            `json:"payment_method"`
	Metadata         map[string]string `json:"metadata"`
	LastPaymentError *apiError         `json:"last_payment_error"`
}

// apiError is the error member of an error answer.
type apiError struct {
	Type          string  `json:"type"`
	Code          string  `json:"code"`
	DeclineCode   string  `json:"decline_code"`
	PaymentIntent *intent `json:"payment_intent"`
}

// decode decodes an answer body as T.
func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// errorOf decodes an error answer.
func errorOf(t *testing.T, r reply) apiError {
	t.Helper()
	return decode[struct {
		Error apiError `json:"error"`
	}](t, r.body).Error
}

// onlyEntry returns the ledger's single entry.
func onlyEntry(t *testing.T, fake *fakeprovider.Server) fakeprovider.LedgerEntry {
	t.Helper()
	ledger := fake.Ledger()
	if len(ledger) != 1 {
		t.Fatalf("ledger has %d entries, want 1: %+v", len(ledger), ledger)
	}
	return ledger[0]
}

func TestCreateAnswersEachTokensOutcome(t *testing.T) {
	tests := []struct {
		token       string
		wantStatus  int
		wantType    string
		wantDecline string
		wantLedger  string // ledger status; empty for no entry
	}{
		{fakeprovider.TokenVisa, 200, "", "", "succeeded"},
		{fakeprovider.TokenDeclined, 402, "card_error", "generic_decline", "declined"},
		{fakeprovider.TokenInsufficientFunds, 402, "card_error", "insufficient_funds", "declined"},
		{"pm_card_unknown", 400, "invalid_request_error", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			fake, srv := setup(t, fakeprovider.Options{})

			r := create(t, srv, "key-1", paymentBody(tt.token, 2500, "ord_1"))
			if r.status != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (%s)", r.status, tt.wantStatus, r.body)
			}
			if tt.wantStatus == 200 {
				checkSucceeded(t, decode[intent](t, r.body))
			} else {
				checkError(t, errorOf(t, r), tt.wantType, tt.wantDecline)
			}

			ledger := fake.Ledger()
			if tt.wantLedger == "" {
				if len(ledger) != 0 {
					t.Fatalf("ledger: got %+v, want none", ledger)
				}
				return
			}
			if e := onlyEntry(t, fake); e.Status != tt.wantLedger || e.DeclineCode != tt.wantDecline {
				t.Fatalf("ledger entry: got %+v, want status %s, decline code %q",
					e, tt.wantLedger, tt.wantDecline)
			}
		})
	}
}

// checkSucceeded checks the payment intent of pm_card_visa for 2500 usd.
func checkSucceeded(t *testing.T, pi intent) {
	t.Helper()
	if !strings.HasPrefix(pi.ID, "pi_") || pi.Status != "succeeded" || pi.Amount != 2500 ||
		pi.Currency != "usd" || pi.PaymentMethod != fakeprovider.TokenVisa ||
		pi.Metadata["order_id"] != "ord_1" || pi.LastPaymentError != nil {
		t.Fatalf("payment intent: got %+v, want a succeeded pi_ of 2500 usd for ord_1", pi)
	}
}

// checkError checks an error answer's type and decline code, and that a
// decline carries its declined payment intent.
func checkError(t *testing.T, e apiError, wantType, wantDecline string) {
	t.Helper()
	if e.Type != wantType || e.DeclineCode != wantDecline {
		t.Fatalf("error: got type %q decline %q, want %q %q",
			e.Type, e.DeclineCode, wantType, wantDecline)
	}
	if wantType != "card_error" {
		return
	}
	if e.Code != "card_declined" || e.PaymentIntent == nil ||
		e.PaymentIntent.Status != "declined" || e.PaymentIntent.ID == "" {
		t.Fatalf("decline: got code %q intent %+v, want card_declined with a declined intent",
			e.Code, e.PaymentIntent)
	}
}

func TestSameKeyAndParametersReplaysTheFirstAnswer(t *testing.T) {
	for _, token := range []string{fakeprovider.TokenVisa, fakeprovider.TokenDeclined} {
		t.Run(token, func(t *testing.T) {
			fake, srv := setup(t, fakeprovider.Options{})
			body := paymentBody(token, 2500, "ord_1")

			first := create(t, srv, "key-1", body)
			again := create(t, srv, "key-1", body)

			if again.status != first.status || !bytes.Equal(again.body, first.body) {
				t.Fatalf("replay: got %d %s, want %d %s",
					again.status, again.body, first.status, first.body)
			}
			if got := first.header.Get("Idempotent-Replayed"); got != "false" {
				t.Fatalf("first Idempotent-Replayed: got %q, want false", got)
			}
			if got := again.header.Get("Idempotent-Replayed"); got != "true" {
				t.Fatalf("replay Idempotent-Replayed: got %q, want true", got)
			}
			if e := onlyEntry(t, fake); e.Requests != 2 || e.IdempotencyKey != "key-1" {
				t.Fatalf("ledger entry: got %+v, want key-1 with 2 requests", e)
			}
		})
	}
}

func TestSameKeyOtherParametersIsAnIdempotencyError(t *testing.T) {
	fake, srv := setup(t, fakeprovider.Options{})
	create(t, srv, "key-1", paymentBody(fakeprovider.TokenVisa, 2500, "ord_1"))

	r := create(t, srv, "key-1", paymentBody(fakeprovider.TokenVisa, 9900, "ord_1"))

	if r.status != 400 {
		t.Fatalf("status: got %d, want 400", r.status)
	}
	if e := errorOf(t, r); e.Type != "idempotency_error" {
		t.Fatalf("error type: got %q, want idempotency_error", e.Type)
	}
	if e := onlyEntry(t, fake); e.Amount != 2500 || e.Requests != 2 {
		t.Fatalf("ledger entry: got %+v, want the first amount and 2 requests", e)
	}
}

func TestInvalidRequestsAreRefusedAndNotStored(t *testing.T) {
	visa := paymentBody(fakeprovider.TokenVisa, 2500, "ord_1")
	tests := []struct {
		name, key, body string
	}{
		{"no key", "", visa},
		{"key too long", strings.Repeat("k", 256), visa},
		{"key not ASCII", "clé-1", visa},
		{"not JSON", "key-1", `{"amount": `},
		{"unknown field", "key-1", `{"amount": 1, "currency": "usd", "card": "4242"}`},
		{"two objects", "key-1", visa + visa},
		{"zero amount", "key-1", paymentBody(fakeprovider.TokenVisa, 0, "ord_1")},
		{"negative amount", "key-1", paymentBody(fakeprovider.TokenVisa, -5, "ord_1")},
		{"huge amount", "key-1", paymentBody(fakeprovider.TokenVisa, 1e8, "ord_1")},
		{"fractional amount", "key-1", `{"amount": 1.5, "currency": "usd",
			"payment_method": "pm_card_visa"}`},
		{"bad currency", "key-1", `{"amount": 1, "currency": "dollars",
			"payment_method": "pm_card_visa"}`},
		{"no payment method", "key-1", `{"amount": 1, "currency": "usd"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := setup(t, fakeprovider.Options{})

			r := create(t, srv, tt.key, tt.body)
			if r.status != 400 || errorOf(t, r).Type != "invalid_request_error" {
				t.Fatalf("got %d %s, want 400 invalid_request_error", r.status, r.body)
			}
			if ledger := fake.Ledger(); len(ledger) != 0 {
				t.Fatalf("ledger: got %+v, want none", ledger)
			}

			// Nothing was stored under the key: the corrected request executes.
			if tt.key == "key-1" {
				if r := create(t, srv, tt.key, visa); r.status != 200 {
					t.Fatalf("corrected request: got %d %s, want 200", r.status, r.body)
				}
			}
		})
	}
}

func TestConcurrentRequestsWithOneKeyChargeOnce(t *testing.T) {
	fake, srv := setup(t, fakeprovider.Options{})
	const n = 50
	body := paymentBody(fakeprovider.TokenVisa, 2500, "ord_1")

	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := srv.Client().Do(createRequest(t, srv.URL, "key-race", body))
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			var pi intent
			if err := json.NewDecoder(resp.Body).Decode(&pi); err != nil {
				t.Errorf("request %d: decode: %v", i, err)
			}
			ids[i] = pi.ID
		})
	}
	wg.Wait()

	for i, id := range ids {
		if id != ids[0] || id == "" {
			t.Fatalf("request %d: got payment %q, want %q like request 0", i, id, ids[0])
		}
	}
	if e := onlyEntry(t, fake); e.Requests != n || e.ID != ids[0] {
		t.Fatalf("ledger entry: got %+v, want %s with %d requests", e, ids[0], n)
	}
}

func TestGetReadsAPaymentBack(t *testing.T) {
	_, srv := setup(t, fakeprovider.Options{})
	created := decode[intent](t,
		create(t, srv, "key-1", paymentBody(fakeprovider.TokenVisa, 2500, "ord_1")).body)

	r := get(t, srv, "/v1/payment_intents/"+created.ID)

	if r.status != 200 {
		t.Fatalf("status: got %d, want 200", r.status)
	}
	checkSucceeded(t, decode[intent](t, r.body))
}

func TestGetUnknownPaymentIsResourceMissing(t *testing.T) {
	_, srv := setup(t, fakeprovider.Options{})

	r := get(t, srv, "/v1/payment_intents/pi_nope")

	if r.status != 404 {
		t.Fatalf("status: got %d, want 404", r.status)
	}
	if e := errorOf(t, r); e.Type != "invalid_request_error" || e.Code != "resource_missing" {
		t.Fatalf("error: got %+v, want invalid_request_error resource_missing", e)
	}
}

func TestListFindsAnOrdersPaymentsOldestFirst(t *testing.T) {
	_, srv := setup(t, fakeprovider.Options{})
	var want []string
	for i, token := range []string{fakeprovider.TokenDeclined, fakeprovider.TokenVisa} {
		r := create(t, srv, "a-"+itoa(int64(i)), paymentBody(token, 2500, "ord_a"))
		want = append(want, decode[intent](t, r.body).ID)
		if r.status == 402 {
			want[i] = errorOf(t, r).PaymentIntent.ID
		}
	}
	create(t, srv, "b-1", paymentBody(fakeprovider.TokenVisa, 100, "ord_b"))

	r := get(t, srv, "/v1/payment_intents?order_id=ord_a")

	list := decode[struct{ Data []intent }](t, r.body)
	if len(list.Data) != len(want) {
		t.Fatalf("payments of ord_a: got %+v, want %v", list.Data, want)
	}
	for i, pi := range list.Data {
		if pi.ID != want[i] {
			t.Fatalf("payment %d: got %s, want %s", i, pi.ID, want[i])
		}
	}
}

func TestListOfAnOrderWithoutPaymentsIsEmpty(t *testing.T) {
	_, srv := setup(t, fakeprovider.Options{})

	r := get(t, srv, "/v1/payment_intents?order_id=ord_none")

	if got := strings.TrimSpace(string(r.body)); got != `{"object":"list","data":[]}` {
		t.Fatalf("body: got %s, want an empty list", got)
	}
}

func TestFaultsCanBeSetAndReadThroughTheControlAPI(t *testing.T) {
	fake, srv := setup(t, fakeprovider.Options{})

	r := putFaults(t, srv, `{"mode": "error", "latency_ms": 5, "error_rate": 0.25}`)

	want := fakeprovider.Faults{Mode: "error", LatencyMS: 5, ErrorRate: 0.25}
	if r.status != 200 || decode[fakeprovider.Faults](t, r.body) != want {
		t.Fatalf("PUT: got %d %s, want 200 %+v", r.status, r.body, want)
	}
	if got := decode[fakeprovider.Faults](t, get(t, srv, "/_control/faults").body); got != want {
		t.Fatalf("GET: got %+v, want %+v", got, want)
	}
	if got := fake.Faults(); got != want {
		t.Fatalf("Faults: got %+v, want %+v", got, want)
	}
}

func TestBadFaultsAreRefusedAndChangeNothing(t *testing.T) {
	for _, body := range []string{
		`{"mode": "sideways"}`,
		`{"mode": "down", "latency_ms": -1}`,
		`{"mode": "error", "error_rate": 1.5}`,
		`{"mode": "down", "colour": "red"}`,
		`not json`,
	} {
		t.Run(body, func(t *testing.T) {
			fake, srv := setup(t, fakeprovider.Options{})

			r := putFaults(t, srv, body)

			if r.status != 400 || errorOf(t, r).Type != "invalid_request_error" {
				t.Fatalf("got %d %s, want 400 invalid_request_error", r.status, r.body)
			}
			if got := fake.Faults(); got.Mode != fakeprovider.ModeNormal {
				t.Fatalf("faults: got %+v, want normal", got)
			}
		})
	}
}

func TestDownRefusesBeforeExecuting(t *testing.T) {
	fake, srv := setup(t, fakeprovider.Options{})
	body := paymentBody(fakeprovider.TokenVisa, 2500, "ord_1")
	create(t, srv, "key-1", body)
	setFaults(t, fake, fakeprovider.Faults{Mode: fakeprovider.ModeDown})

	for _, key := range []string{"key-1", "key-2"} {
		r := create(t, srv, key, body)
		if e := errorOf(t, r); r.status != 503 || e.Code != "service_unavailable" {
			t.Fatalf("%s: got %d %s, want 503 service_unavailable", key, r.status, r.body)
		}
	}
	if r := get(t, srv, "/_control/ledger"); r.status != 200 {
		t.Fatalf("ledger while down: got %d, want 200", r.status)
	}
	if e := onlyEntry(t, fake); e.Requests != 1 {
		t.Fatalf("ledger entry: got %+v, want the first request only", e)
	}
}

func TestRateLimitedAnswers429WithRetryAfter(t *testing.T) {
	fake, srv := setup(t, fakeprovider.Options{})
	setFaults(t, fake, fakeprovider.Faults{Mode: fakeprovider.ModeRateLimited})

	r := create(t, srv, "key-1", paymentBody(fakeprovider.TokenVisa, 2500, "ord_1"))

	if r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("got %d with Retry-After %q, want 429 with 1",
			r.status, r.header.Get("Retry-After"))
	}
	if ledger := fake.Ledger(); len(ledger) != 0 {
		t.Fatalf("ledger: got %+v, want none", ledger)
	}
}

func TestErrorModeWithoutRateFailsEveryRequest(t *testing.T) {
	fake, srv := setup(t, fakeprovider.Options{})
	setFaults(t, fake, fakeprovider.Faults{Mode: fakeprovider.ModeError})

	for i := range 20 {
		r := create(t, srv, "key-"+itoa(int64(i)), paymentBody(fakeprovider.TokenVisa, 1, "o"))
		if r.status != 500 || errorOf(t, r).Type != "api_error" {
			t.Fatalf("request %d: got %d %s, want 500 api_error", i, r.status, r.body)
		}
	}
	if ledger := fake.Ledger(); len(ledger) != 0 {
		t.Fatalf("ledger: got %d entries, want none", len(ledger))
	}
}

func TestErrorModeFailsTheShareOfRequestsAtErrorRate(t *testing.T) {
	fake, srv := setup(t, fakeprovider.Options{Rand: rand.New(rand.NewPCG(1, 2))})
	setFaults(t, fake, fakeprovider.Faults{Mode: fakeprovider.ModeError, ErrorRate: 0.5})

	failed := 0
	const n = 200
	for i := range n {
		r := create(t, srv, "key-"+itoa(int64(i)), paymentBody(fakeprovider.TokenVisa, 1, "o"))
		if r.status == 500 {
			failed++
		}
	}
	if failed < n/4 || failed > 3*n/4 {
		t.Fatalf("failed: got %d of %d, want about half", failed, n)
	}
	if got := len(fake.Ledger()); got != n-failed {
		t.Fatalf("ledger: got %d entries, want one per success, %d", got, n-failed)
	}
}

func TestHangAnswersNothingUntilTheClientGivesUp(t *testing.T) {
	fake, srv := setup(t, fakeprovider.Options{})
	setFaults(t, fake, fakeprovider.Faults{Mode: fakeprovider.ModeHang})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req := createRequest(t, srv.URL, "key-1", paymentBody(fakeprovider.TokenVisa, 1, "o"))

	_, err := srv.Client().Do(req.WithContext(ctx))

	if err == nil || ctx.Err() == nil {
		t.Fatalf("got err %v before the deadline, want no answer until it", err)
	}
	if ledger := fake.Ledger(); len(ledger) != 0 {
		t.Fatalf("ledger: got %+v, want none", ledger)
	}
}

func TestCloseReleasesHungRequestsWith503(t *testing.T) {
	fake, srv := setup(t, fakeprovider.Options{})
	setFaults(t, fake, fakeprovider.Faults{Mode: fakeprovider.ModeHang})

	answered := make(chan reply)
	go func() {
		answered <- create(t, srv, "key-1", paymentBody(fakeprovider.TokenVisa, 1, "o"))
	}()
	fake.Close()

	if r := <-answered; r.status != 503 {
		t.Fatalf("status: got %d, want 503", r.status)
	}
}

func TestLatencyDelaysRequests(t *testing.T) {
	fake, srv := setup(t, fakeprovider.Options{})
	setFaults(t, fake, fakeprovider.Faults{LatencyMS: 100})

	start := time.Now()
	r := create(t, srv, "key-1", paymentBody(fakeprovider.TokenVisa, 1, "o"))

	if elapsed := time.Since(start); r.status != 200 || elapsed < 100*time.Millisecond {
		t.Fatalf("got %d after %v, want 200 after 100ms", r.status, elapsed)
	}
}

func TestLatencyEndsWhenTheClientGivesUp(t *testing.T) {
	fake, srv := setup(t, fakeprovider.Options{})
	setFaults(t, fake, fakeprovider.Faults{LatencyMS: fakeprovider.MaxLatencyMS})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req := createRequest(t, srv.URL, "key-1", paymentBody(fakeprovider.TokenVisa, 1, "o"))

	if _, err := srv.Client().Do(req.WithContext(ctx)); err == nil {
		t.Fatal("got an answer, want none before the deadline")
	}

	// srv.Close in the cleanup waits for the handler: it must have returned
	// without executing.
	srv.Close()
	if ledger := fake.Ledger(); len(ledger) != 0 {
		t.Fatalf("ledger: got %+v, want none", ledger)
	}
}

func TestDropAfterChargeChargesThenClosesTheConnection(t *testing.T) {
	fake, srv := setup(t, fakeprovider.Options{})
	setFaults(t, fake, fakeprovider.Faults{Mode: fakeprovider.ModeDropAfterCharge})
	body := paymentBody(fakeprovider.TokenVisa, 2500, "ord_1")

	if resp, err := srv.Client().Do(createRequest(t, srv.URL, "key-1", body)); err == nil {
		resp.Body.Close()
		t.Fatalf("got %d, want the connection dropped", resp.StatusCode)
	}
	charged := onlyEntry(t, fake)
	if charged.Status != "succeeded" {
		t.Fatalf("ledger entry: got %+v, want succeeded", charged)
	}

	// Reads still answer, so that a reconciler can find the charge.
	if r := get(t, srv, "/v1/payment_intents/"+charged.ID); r.status != 200 {
		t.Fatalf("read while dropping: got %d, want 200", r.status)
	}

	setFaults(t, fake, fakeprovider.Faults{Mode: fakeprovider.ModeNormal})
	r := create(t, srv, "key-1", body)
	if pi := decode[intent](t, r.body); r.status != 200 || pi.ID != charged.ID {
		t.Fatalf("retry: got %d %s, want 200 with %s", r.status, r.body, charged.ID)
	}
	if e := onlyEntry(t, fake); e.Requests != 2 {
		t.Fatalf("ledger entry: got %+v, want 2 requests", e)
	}
}

func TestDropAfterChargeOverHTTP2(t *testing.T) {
	fake := fakeprovider.New(fakeprovider.Options{})
	srv := httptest.NewUnstartedServer(fake)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	setFaults(t, fake, fakeprovider.Faults{Mode: fakeprovider.ModeDropAfterCharge})

	req := createRequest(t, srv.URL, "key-1", paymentBody(fakeprovider.TokenVisa, 2500, "o"))
	resp, err := srv.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got %d over %s, want the stream dropped", resp.StatusCode, resp.Proto)
	}
	if e := onlyEntry(t, fake); e.Status != "succeeded" {
		t.Fatalf("ledger entry: got %+v, want succeeded", e)
	}
}

func TestControlRoutesIgnoreFaults(t *testing.T) {
	fake, srv := setup(t, fakeprovider.Options{})
	setFaults(t, fake, fakeprovider.Faults{Mode: fakeprovider.ModeHang, LatencyMS: 60_000})

	for _, path := range []string{"/_control/faults", "/_control/ledger"} {
		if r := get(t, srv, path); r.status != 200 {
			t.Fatalf("%s: got %d, want 200", path, r.status)
		}
	}
	if r := putFaults(t, srv, `{"mode": "normal"}`); r.status != 200 {
		t.Fatalf("PUT faults: got %d, want 200", r.status)
	}
}

func TestOptionsMakeIDsAndTimesReproducible(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	opts := func() fakeprovider.Options {
		return fakeprovider.Options{
			Now:  func() time.Time { return at },
			Rand: rand.New(rand.NewPCG(7, 7)),
		}
	}
	one, srvOne := setup(t, opts())
	two, srvTwo := setup(t, opts())

	create(t, srvOne, "key-1", paymentBody(fakeprovider.TokenVisa, 1, "o"))
	create(t, srvTwo, "key-1", paymentBody(fakeprovider.TokenVisa, 1, "o"))

	a, b := onlyEntry(t, one), onlyEntry(t, two)
	if a.ID != b.ID || !a.CreatedAt.Equal(at) {
		t.Fatalf("entries: got %s at %v and %s, want equal ids at %v", a.ID, a.CreatedAt, b.ID, at)
	}
}
