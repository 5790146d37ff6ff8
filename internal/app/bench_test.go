package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/writepath/writepath/internal/app"
	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/checkout"
	"github.com/writepath/writepath/internal/order"
	"github.com/writepath/writepath/internal/provider"
	"github.com/writepath/writepath/internal/queue"
	"github.com/writepath/writepath/internal/store"
	"github.com/writepath/writepath/internal/store/storetest"
)

// benchService is a running service with the built-in provider, plus a plain
// handler on the same database and provider that makes the same writes as
// POST /v1/orders without the idempotency layer.
type benchService struct {
	url, plainURL string
	apiKey        string
	client        *http.Client
}

func startBench(b *testing.B, engine string) *benchService {
	b.Helper()
	dbURL := storetest.URL(b, engine)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Config{Addr: "127.0.0.1:0", Database: dbURL,
		Provider: app.BuiltinProvider, Logger: slog.New(slog.DiscardHandler),
		RateLimit: 1e6, MailDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })

	tenant, key, err := a.DB().CreateTenant(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	pc, err := provider.New(provider.Options{BaseURL: a.ProviderURL()})
	if err != nil {
		b.Fatal(err)
	}
	plain := httptest.NewServer(plainOrders(a.DB(), pc, a.Queue(), tenant.ID))
	b.Cleanup(plain.Close)
	return &benchService{url: "http://" + a.Addr(), plainURL: plain.URL, apiKey: key,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}}
}

// plainOrders is the baseline: decode, insert the order, mark it
// processing, charge, mark it completed and enqueue its side effects; the
// same order writes, jobs and provider call as the idempotent path, without
// claiming a key, recording steps, storing the response or the breaker.
func plainOrders(db *store.DB, pc *provider.Client, q *queue.Queue, tenantID string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		body, _ := io.ReadAll(r.Body)
		req, p := checkout.DecodeOrderRequest(body)
		if p != nil {
			http.Error(w, p.Detail, 400)
			return
		}
		now := time.Now().UTC()
		o := &order.Order{ID: store.NewID("ord"), TenantID: tenantID, Status: order.Pending,
			Amount: req.Amount(), Currency: req.Currency, CustomerEmail: req.Customer.Email,
			Items: req.Items, Version: 1, CreatedAt: now, UpdatedAt: now,
			Payment: order.Payment{Attempt: 1, Method: req.PaymentMethod,
				Status: order.PaymentNotStarted}}
		must := func(err error) bool {
			if err != nil {
				http.Error(w, err.Error(), 500)
			}
			return err == nil
		}
		if !must(db.Tx(ctx, func(tx *sql.Tx) error { return store.InsertOrder(ctx, tx, o) })) {
			return
		}
		_ = o.Move(order.Processing, order.PaymentInFlight, now)
		if !must(db.Tx(ctx, func(tx *sql.Tx) error { return store.UpdateOrder(ctx, tx, o) })) {
			return
		}
		pay, err := pc.CreatePayment(ctx, provider.PaymentParams{
			IdempotencyKey: checkout.ProviderKey(tenantID, o.ID, 1), Amount: o.Amount,
			Currency: o.Currency, PaymentMethod: o.Payment.Method, OrderID: o.ID})
		if !must(err) {
			return
		}
		o.Payment.ProviderReference = &pay.ID
		_ = o.Move(order.Completed, order.PaymentSucceeded, time.Now().UTC())
		err = db.Tx(ctx, func(tx *sql.Tx) error {
			if err := store.UpdateOrder(ctx, tx, o); err != nil {
				return err
			}
			o.SideEffects, err = q.EnqueueOrderEffects(ctx, tx, o)
			return err
		})
		if !must(err) {
			return
		}
		out, _ := json.Marshal(o)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(out)
	})
}

func (s *benchService) post(b *testing.B, url, key string) time.Duration {
	return s.postAt(b, url, key, http.StatusCreated)
}

// BenchmarkOrderWritePath compares POST /v1/orders with the idempotency
// layer against the plain handler making the same writes. Each iteration
// sends one request of each kind, alternating which goes first, so that both
// see the same machine load; the ratio is the overhead of idempotency.
func BenchmarkOrderWritePath(b *testing.B) {
	for _, engine := range storetest.Engines {
		b.Run(engine, func(b *testing.B) {
			s := startBench(b, engine)
			var idem, plain time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				key := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
				if i%2 == 0 {
					idem += s.post(b, s.url, key)
					plain += s.post(b, s.plainURL, key)
				} else {
					plain += s.post(b, s.plainURL, key)
					idem += s.post(b, s.url, key)
				}
			}
			report(b, "idempotent", idem, "plain", plain)
		})
	}
}

// BenchmarkReplay compares a first execution of POST /v1/orders with a
// replay of the same request: each iteration sends a new key, then the
// same key again.
func BenchmarkReplay(b *testing.B) {
	for _, engine := range storetest.Engines {
		b.Run(engine, func(b *testing.B) {
			s := startBench(b, engine)
			var first, replay time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				key := fmt.Sprintf("replay-%d-%d", time.Now().UnixNano(), i)
				first += s.post(b, s.url, key)
				replay += s.post(b, s.url, key)
			}
			report(b, "first", first, "replay", replay)
		})
	}
}

// report adds per-request times, requests per second of one client, and
// the ratio a/b to the benchmark's output.
func report(b *testing.B, aName string, a time.Duration, bName string, bd time.Duration) {
	n := float64(b.N)
	b.ReportMetric(float64(a.Nanoseconds())/n, aName+"-ns/req")
	b.ReportMetric(float64(bd.Nanoseconds())/n, bName+"-ns/req")
	b.ReportMetric(n/a.Seconds(), aName+"-req/s")
	b.ReportMetric(n/bd.Seconds(), bName+"-req/s")
	b.ReportMetric(float64(a)/float64(bd), aName+"/"+bName)
}

// BenchmarkFastFail measures the answer time of POST /v1/orders while the
// provider hangs: with its breaker held open (the call is not made; the
// order is queued) next to a breaker that lets every call through, where
// each answer waits for the provider timeout (500 ms here, 10 s by
// default). Both run in the same process against the same hanging built-in
// provider; the ratio is the share of the timeout an open breaker costs.
func BenchmarkFastFail(b *testing.B) {
	const timeout = 500 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Config{Addr: "127.0.0.1:0",
		Database: storetest.URL(b, "sqlite"), Provider: app.BuiltinProvider,
		Logger: slog.New(slog.DiscardHandler), RateLimit: 1e6, ProviderTimeout: timeout,
		MailDir:         b.TempDir(),
		ProviderBreaker: breaker.Options{MinRequests: 1 << 30}, // never opens by itself
	})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	_, key, err := a.DB().CreateTenant(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	s := &benchService{url: "http://" + a.Addr(), apiKey: key, client: &http.Client{}}
	s.control(b, "PUT", a.ProviderURL()+"/_control/faults", `{"mode":"hang"}`)

	var open, through time.Duration
	var slow int
	for i := 0; b.Loop(); i++ {
		s.control(b, "PUT", s.url+"/v1/breakers/provider", `{"state":"open"}`)
		open += s.postStatus(b, fmt.Sprintf("ff-open-%d-%d", time.Now().UnixNano(), i), 202)
		if i%10 == 0 { // the slow path costs a whole timeout; sample it
			s.control(b, "PUT", s.url+"/v1/breakers/provider", `{"state":"auto"}`)
			through += s.postStatus(b, fmt.Sprintf("ff-hang-%d-%d", time.Now().UnixNano(), i), 202)
			slow++
		}
	}
	openPer := float64(open.Nanoseconds()) / float64(b.N)
	throughPer := float64(through.Nanoseconds()) / float64(slow)
	b.ReportMetric(openPer, "open-ns/req")
	b.ReportMetric(throughPer, "timeout-ns/req")
	b.ReportMetric(openPer/throughPer, "open/timeout")
}

func (s *benchService) control(b *testing.B, method, url, body string) {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	resp, err := s.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("%s %s: %d", method, url, resp.StatusCode)
	}
}

// postStatus posts a new order to the service and returns its answer time,
// failing unless the status is want.
func (s *benchService) postStatus(b *testing.B, key string, want int) time.Duration {
	return s.postAt(b, s.url, key, want)
}

// postAt posts an order to url with the key and returns the answer time,
// failing unless the status is want.
func (s *benchService) postAt(b *testing.B, url, key string, want int) time.Duration {
	req, _ := http.NewRequest("POST", url+"/v1/orders", bytes.NewReader(orderBody("pm_card_visa")))
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	req.Header.Set("Idempotency-Key", key)
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != want {
		b.Fatalf("status %d, want %d", resp.StatusCode, want)
	}
	return took
}
