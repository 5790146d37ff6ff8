package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/writepath/writepath/internal/app"
	"github.com/writepath/writepath/internal/fakeprovider"
	"github.com/writepath/writepath/internal/order"
	"github.com/writepath/writepath/internal/queue"
	"github.com/writepath/writepath/internal/store"
	"github.com/writepath/writepath/internal/store/storetest"
)

// childEnv names the variable that turns the test binary into a service
// process for the crash tests.
const childEnv = "WRITEPATH_TEST_CHILD"

// childConfig is what a crash-test child runs with.
type childConfig struct {
	Role          string        `json:"role"` // "" serves writepath; "provider" the fake provider
	Database      string        `json:"database"`
	Provider      string        `json:"provider"`
	CrashAt       string        `json:"crash_at"` // checkout step after which to SIGKILL itself
	AddrFile      string        `json:"addr_file"`
	Lease         time.Duration `json:"lease"`
	CompleteEvery time.Duration `json:"complete_every"`
	MailDir       string        `json:"mail_dir"`
	SMTPAddr      string        `json:"smtp_addr"`
	JobTimeout    time.Duration `json:"job_timeout"`
	RescueAfter   time.Duration `json:"rescue_after"`
}

func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		os.Exit(runChild(cfg))
	}
	os.Exit(m.Run())
}

// runChild runs a real service instance that kills itself, without any
// cleanup, right after the checkout commits the configured step.
func runChild(raw string) int {
	var cfg childConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return 3
	}
	if cfg.Role == "provider" {
		return runProviderChild(cfg)
	}
	ctx := context.Background()
	a, err := app.New(ctx, app.Config{
		Addr: "127.0.0.1:0", Database: cfg.Database, Provider: cfg.Provider,
		Logger: slog.New(slog.NewJSONHandler(os.Stderr, nil)), Lease: cfg.Lease,
		CompleteEvery: cfg.CompleteEvery, ProviderTimeout: time.Second,
		MailDir: cfg.MailDir, SMTPAddr: cfg.SMTPAddr,
		Queue: queue.Options{SampleEvery: 50 * time.Millisecond, JobTimeout: cfg.JobTimeout,
			RescueAfter: cfg.RescueAfter},
		AfterStep: func(point string) {
			if point == cfg.CrashAt {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		},
	})
	if err != nil {
		return 4
	}
	if err := os.WriteFile(cfg.AddrFile, []byte(a.Addr()), 0o600); err != nil {
		return 5
	}
	if err := a.Run(ctx); err != nil {
		return 6
	}
	return 0
}

// runProviderChild serves the fake payment provider alone, as
// "writepath provider" does, so that tests break a provider that runs in a
// process of its own.
func runProviderChild(cfg childConfig) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 4
	}
	if err := os.WriteFile(cfg.AddrFile, []byte(l.Addr().String()), 0o600); err != nil {
		return 5
	}
	_ = http.Serve(l, fakeprovider.New(fakeprovider.Options{}))
	return 0
}

// child is a service process started by a crash test.
type child struct {
	cmd *exec.Cmd
	url string
}

func startChild(t *testing.T, cfg childConfig) *child {
	t.Helper()
	cfg.AddrFile = filepath.Join(t.TempDir(), "addr")
	raw, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	cmd.Stderr = &testWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	eventually(t, 15*time.Second, "child listening", func() bool {
		addr, err := os.ReadFile(cfg.AddrFile)
		c.url = "http://" + string(addr)
		return err == nil && len(addr) > 0
	})
	return c
}

// testWriter sends a child's log lines to the test log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Logf("child: %s", p)
	return len(p), nil
}

// crashFixture is a database with one tenant and a provider that outlives
// the service processes.
type crashFixture struct {
	dbURL    string
	db       *store.DB
	apiKey   string
	provider *fakeprovider.Server
	provURL  string
}

func newCrashFixture(t *testing.T, dbURL string) *crashFixture {
	f := &crashFixture{dbURL: dbURL, db: storetest.OpenURL(t, dbURL)}
	_, key, err := f.db.CreateTenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	f.apiKey = key
	f.provider = fakeprovider.New(fakeprovider.Options{})
	ps := httptest.NewServer(f.provider)
	t.Cleanup(func() { f.provider.Close(); ps.Close() })
	f.provURL = ps.URL
	return f
}

func (f *crashFixture) post(t *testing.T, c *child, key string) (response, error) {
	t.Helper()
	return doRaw(c.url, f.apiKey, key, orderBody("pm_card_visa"))
}

func (f *crashFixture) onlyOrder(t *testing.T) *order.Order {
	t.Helper()
	var id, tenant string
	err := f.db.SQL.QueryRow(`SELECT id, tenant_id FROM orders`).Scan(&id, &tenant)
	if err != nil {
		t.Fatalf("the one order: %v", err)
	}
	o, err := store.GetOrder(context.Background(), f.db.SQL, tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestKilledAfterChargeRetryResumesWithoutSecondCharge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		f := newCrashFixture(t, dbURL)

		// The provider charges; the process dies before recording the answer.
		first := startChild(t, childConfig{Database: dbURL, Provider: f.provURL,
			CrashAt: "provider_answered", Lease: 2 * time.Second, CompleteEvery: time.Hour})
		key := newKey()
		if _, err := f.post(t, first, key); err == nil {
			t.Fatal("the request got an answer from a process that was killed")
		}
		waitKilled(t, first)

		ledger := f.provider.Ledger()
		if len(ledger) != 1 || ledger[0].Status != "succeeded" {
			t.Fatalf("ledger after the crash: %+v, want one charge", ledger)
		}
		if o := f.onlyOrder(t); o.Status != order.Processing || o.Payment.Status != order.PaymentInFlight {
			t.Fatalf("order after the crash: %s/%s, want processing/in_flight", o.Status, o.Payment.Status)
		}

		// A new process; the client retries with the same key until the dead
		// request's lease has run out and the retry takes it over.
		second := startChild(t, childConfig{Database: dbURL, Provider: f.provURL,
			Lease: 2 * time.Second, CompleteEvery: time.Hour})
		r := retryUntilAnswered(t, f, second, key)
		if r.Status != http.StatusCreated {
			t.Fatalf("retry: %d %s, want 201", r.Status, r.Body)
		}

		o := f.onlyOrder(t)
		ledger = f.provider.Ledger()
		if len(ledger) != 1 || ledger[0].Requests != 2 {
			t.Fatalf("ledger %+v: want one payment seen twice (same provider key)", ledger)
		}
		if o.Status != order.Completed || o.Payment.ProviderReference == nil ||
			*o.Payment.ProviderReference != ledger[0].ID {
			t.Errorf("order %+v, want completed with reference %s", o, ledger[0].ID)
		}
	})
}

func TestKilledBeforeChargeServiceCompletesOnItsOwn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		f := newCrashFixture(t, dbURL)

		// The process dies after marking the payment in flight, before the
		// provider call.
		first := startChild(t, childConfig{Database: dbURL, Provider: f.provURL,
			CrashAt: "payment_sent", Lease: time.Second, CompleteEvery: time.Hour})
		key := newKey()
		if _, err := f.post(t, first, key); err == nil {
			t.Fatal("the request got an answer from a process that was killed")
		}
		waitKilled(t, first)
		if n := len(f.provider.Ledger()); n != 0 {
			t.Fatalf("ledger has %d payments before the provider was called", n)
		}

		// A new process finishes the request with no client retry at all.
		second := startChild(t, childConfig{Database: dbURL, Provider: f.provURL,
			Lease: time.Second, CompleteEvery: 100 * time.Millisecond})
		eventually(t, 15*time.Second, "order completed by the service", func() bool {
			return f.onlyOrder(t).Status == order.Completed
		})
		if ledger := f.provider.Ledger(); len(ledger) != 1 || ledger[0].Requests != 1 {
			t.Errorf("ledger %+v, want one payment", ledger)
		}

		// The late client retry gets the stored result.
		r := retryUntilAnswered(t, f, second, key)
		if r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("late retry: %d replayed %q, want a 201 replay", r.Status,
				r.Header.Get("Idempotent-Replayed"))
		}
	})
}

func waitKilled(t *testing.T, c *child) {
	t.Helper()
	err := c.cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child ended with %v, want killed", err)
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL", err)
	}
}

// retryUntilAnswered retries a request with the same key, honouring
// Retry-After, while the answer is 409 in use.
func retryUntilAnswered(t *testing.T, f *crashFixture, c *child, key string) response {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := f.post(t, c, key)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusConflict || time.Now().After(deadline) {
			return r
		}
		secs, _ := strconv.Atoi(r.Header.Get("Retry-After"))
		time.Sleep(time.Duration(max(secs, 1)) * time.Second / 2)
	}
}

func TestKilledAfterCommitTheJobStillRuns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		f := newCrashFixture(t, dbURL)
		mailDir := t.TempDir()
		first := startChild(t, childConfig{Database: dbURL, Provider: f.provURL,
			CrashAt: "finished", MailDir: mailDir, Lease: time.Second, CompleteEvery: time.Hour})

		// Hold the email queue, so the job cannot run before the crash.
		ops, err := river.NewClient(f.db.RiverDriver(), &river.Config{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		eventually(t, 10*time.Second, "email queue paused", func() bool {
			return ops.QueuePause(ctx, queue.QueueEmail, nil) == nil
		})
		time.Sleep(200 * time.Millisecond) // the producer notices the pause

		key := newKey()
		if _, err := f.post(t, first, key); err == nil {
			t.Fatal("the request got an answer from a process that was killed")
		}
		waitKilled(t, first)
		if o := f.onlyOrder(t); o.Status != order.Completed {
			t.Fatalf("order %s, want completed: the crash came after the commit", o.Status)
		}
		if files, _ := os.ReadDir(mailDir); len(files) != 0 {
			t.Fatalf("%d emails before the job could run", len(files))
		}

		second := startChild(t, childConfig{Database: dbURL, Provider: f.provURL,
			MailDir: mailDir, Lease: time.Second, CompleteEvery: time.Hour})
		if err := ops.QueueResume(ctx, queue.QueueEmail, nil); err != nil {
			t.Fatal(err)
		}
		eventually(t, 15*time.Second, "email sent by the new process", func() bool {
			files, _ := os.ReadDir(mailDir)
			return len(files) == 1
		})
		r := retryUntilAnswered(t, f, second, key)
		if r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry: %d replayed %q, want the stored 201", r.Status,
				r.Header.Get("Idempotent-Replayed"))
		}
	})
}

// TestKilledWhileAJobRunsItIsRescued kills the process while a confirmation
// email is being sent (the SMTP server holds the message), and checks that
// River's rescuer, with the horizon configured for this workload, hands the
// job to the next process, which sends it.
func TestKilledWhileAJobRunsItIsRescued(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River's leader election and rescuer (about 20 s)")
	}
	dbURL := storetest.URL(t, "sqlite")
	f := newCrashFixture(t, dbURL)
	stuck := startSMTP(t)
	stuck.mu.Lock()
	stuck.delay = time.Hour // holds the message: the send never finishes
	stuck.mu.Unlock()

	first := startChild(t, childConfig{Database: dbURL, Provider: f.provURL,
		SMTPAddr: stuck.addr, Lease: time.Second, CompleteEvery: time.Hour})
	if r, err := f.post(t, first, newKey()); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("order: %v %d", err, r.Status)
	}
	o := f.onlyOrder(t)
	eventually(t, 10*time.Second, "email running", func() bool {
		var st string
		_ = f.db.SQL.QueryRow(`SELECT status FROM order_effects WHERE order_id = $1`, o.ID).Scan(&st)
		return st == "running"
	})
	_ = first.cmd.Process.Kill()
	waitKilled(t, first)

	mailDir := t.TempDir()
	startChild(t, childConfig{Database: dbURL, Provider: f.provURL, MailDir: mailDir,
		Lease: time.Second, CompleteEvery: time.Hour, JobTimeout: time.Second,
		RescueAfter: 2 * time.Second})
	start := time.Now()
	eventually(t, 60*time.Second, "email rescued and sent", func() bool {
		files, _ := os.ReadDir(mailDir)
		return len(files) == 1
	})
	t.Logf("rescued and sent %v after the new process started", time.Since(start))
}
