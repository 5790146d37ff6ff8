package app_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/writepath/writepath/internal/app"
	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/fakeprovider"
	"github.com/writepath/writepath/internal/queue"
	"github.com/writepath/writepath/internal/store"
	"github.com/writepath/writepath/internal/store/storetest"
)

// service is one running instance under test, with a fake provider of its
// own served over real HTTP, so the test can break the provider and read its
// ledger.
type service struct {
	t        *testing.T
	url      string
	app      *app.App
	provURL  string // the provider this instance calls
	dbURL    string
	db       *store.DB
	provider *fakeprovider.Server
	keys     [2]string // API keys of two tenants
	stop     func()
}

type serviceOptions struct {
	lease         time.Duration
	completeEvery time.Duration
	providerURL   string // empty: a new fake provider
	reapEvery     time.Duration
	now           func() time.Time
	smtpAddr      string
	queue         queue.Options
	mailDir       string          // empty: a temporary directory
	breaker       breaker.Options // each webhook destination's
	provBreaker   breaker.Options
	policy        string
	retryWindow   time.Duration
	denyPrivate   bool // refuse webhook URLs on private addresses, as in production
}

func startService(t *testing.T, dbURL string, o serviceOptions) *service {
	t.Helper()
	s := &service{t: t}
	provURL := o.providerURL
	if provURL == "" {
		s.provider = fakeprovider.New(fakeprovider.Options{})
		ps := httptest.NewServer(s.provider)
		t.Cleanup(func() { s.provider.Close(); ps.Close() })
		provURL = ps.URL
	}

	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Config{
		Addr: "127.0.0.1:0", Database: dbURL, Provider: provURL,
		Logger: slog.New(slog.DiscardHandler), ProviderTimeout: 2 * time.Second,
		Lease: o.lease, CompleteEvery: o.completeEvery, ReapEvery: o.reapEvery, Now: o.now,
		SMTPAddr: o.smtpAddr, MailDir: cmp.Or(o.mailDir, t.TempDir()), Queue: o.queue,
		AllowPrivateWebhooks: !o.denyPrivate, WebhookBreaker: o.breaker,
		ProviderBreaker: o.provBreaker, PaymentPolicy: o.policy, PaymentRetryWindow: o.retryWindow,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	s.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(func() {
		if s.stop != nil {
			s.stop()
		}
	})
	s.url, s.app, s.provURL, s.dbURL = "http://"+a.Addr(), a, provURL, dbURL

	// A second handle on the database, for tenants and assertions.
	s.db = storetest.OpenURL(t, dbURL)
	for i, name := range []string{"acme", "globex"} {
		_, key, err := s.db.CreateTenant(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		s.keys[i] = key
	}
	return s
}

// Stop shuts the service down gracefully and waits for it.
func (s *service) Stop() {
	s.stop()
	s.stop = nil
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) order(t *testing.T) orderView {
	t.Helper()
	var o orderView
	if err := json.Unmarshal(r.Body, &o); err != nil {
		t.Fatalf("decode order: %v; body %s", err, r.Body)
	}
	return o
}

type orderView struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Amount  int64  `json:"amount"`
	Version int64  `json:"version"`
	Payment struct {
		Status            string  `json:"status"`
		ProviderReference *string `json:"provider_reference"`
	} `json:"payment"`
	Failure *struct {
		Code        string `json:"code"`
		DeclineCode string `json:"decline_code"`
	} `json:"failure"`
}

func (s *service) do(method, path, apiKey string, header http.Header, body []byte) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

var orderSeq atomic.Int64

// orderBody returns an order request paying with the payment method.
func orderBody(pm string) []byte {
	return fmt.Appendf(nil, `{"currency":"usd","customer":{"email":"ada@example.com"},
		"items":[{"sku":"tea-01","quantity":2,"unit_amount":1250}],"payment_method":%q}`, pm)
}

func newKey() string { return fmt.Sprintf("key-%d-%d", time.Now().UnixNano(), orderSeq.Add(1)) }

// postOrder posts an order for tenant 0 with the idempotency key.
func (s *service) postOrder(key, pm string) response {
	s.t.Helper()
	return s.do("POST", "/v1/orders", s.keys[0], http.Header{"Idempotency-Key": {key}}, orderBody(pm))
}

func (s *service) countOrders() int {
	s.t.Helper()
	n, err := store.CountOrders(context.Background(), s.db.SQL)
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

func (s *service) countKeys() int {
	s.t.Helper()
	var n int
	if err := s.db.SQL.QueryRow(`SELECT count(*) FROM idempotency_keys`).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// doRaw posts a body to url with an API key and idempotency key, returning
// the transport error instead of failing, for tests where the server dies.
func doRaw(url, apiKey, idemKey string, body []byte) (response, error) {
	req, err := http.NewRequest("POST", url+"/v1/orders", bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Idempotency-Key", idemKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}
