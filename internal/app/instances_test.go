package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/writepath/writepath/internal/app"
	"github.com/writepath/writepath/internal/fakeprovider"
	"github.com/writepath/writepath/internal/store/storetest"
)

// TestTwoInstancesAreOneService runs two service processes' worth of
// instances on one PostgreSQL database and races one request across both:
// one order, one charge, and either instance answers with the same result.
func TestTwoInstancesAreOneService(t *testing.T) {
	s := startService(t, storetest.URL(t, "postgres"), serviceOptions{queue: fastQueue})
	_ = s.provider.SetFaults(fakeprovider.Faults{Mode: fakeprovider.ModeNormal, LatencyMS: 150})

	ctx, cancel := context.WithCancel(context.Background())
	other, err := app.New(ctx, app.Config{Addr: "127.0.0.1:0", Database: s.dbURL,
		Provider: s.provURL, Logger: slog.New(slog.DiscardHandler), MailDir: t.TempDir()})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- other.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	urls := []string{s.url, "http://" + other.Addr()}

	key := newKey()
	var wg sync.WaitGroup
	results := make([]response, 16)
	for i := range results {
		wg.Go(func() {
			r, err := doRaw(urls[i%2], s.keys[0], key, orderBody("pm_card_visa"))
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		})
	}
	wg.Wait()

	var first *response
	for i, r := range results {
		if r.Status == http.StatusConflict {
			continue
		}
		if r.Status != http.StatusCreated {
			t.Fatalf("answer %d: %d %s", i, r.Status, r.Body)
		}
		if first == nil {
			first = &results[i]
		} else if !bytes.Equal(first.Body, r.Body) {
			t.Errorf("instances answered differently:\n%s\n%s", first.Body, r.Body)
		}
	}
	if n := s.countOrders(); n != 1 {
		t.Errorf("orders: %d, want 1", n)
	}
	if ledger := s.provider.Ledger(); len(ledger) != 1 {
		t.Errorf("provider payments: %d, want 1", len(ledger))
	}
	for _, u := range urls {
		r, _ := doRaw(u, s.keys[0], key, orderBody("pm_card_visa"))
		if r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("%s: replay %d %q", u, r.Status, r.Header.Get("Idempotent-Replayed"))
		}
	}
}
