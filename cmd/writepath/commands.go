package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/writepath/writepath/internal/app"
	"github.com/writepath/writepath/internal/fakeprovider"
	"github.com/writepath/writepath/internal/store"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	f := newFlags("serve", stderr)
	f.stringVar(&cfg.Addr, "addr", "WRITEPATH_ADDR", "127.0.0.1:8080", "address to listen on")
	f.databaseFlag(&cfg.Database)
	f.stringVar(&cfg.Provider, "provider", "WRITEPATH_PROVIDER", app.BuiltinProvider,
		`payment provider: "builtin" (in-process fake) or a base URL`)
	f.boolVar(&cfg.Demo, "demo", "WRITEPATH_DEMO", false,
		"create a demo tenant, print its API key and enable the fault controls")
	f.boolVar(&cfg.AllowPrivateWebhooks, "allow-private-webhooks",
		"WRITEPATH_ALLOW_PRIVATE_WEBHOOKS", false,
		"allow webhook URLs that resolve to loopback or private addresses")
	f.stringVar(&cfg.SMTPAddr, "smtp-addr", "WRITEPATH_SMTP_ADDR", "",
		"SMTP server (host:port) for confirmation emails; empty writes them to --mail-dir")
	f.stringVar(&cfg.MailDir, "mail-dir", "WRITEPATH_MAIL_DIR", "./writepath-mail",
		"directory for emails when no SMTP server is set")
	f.stringVar(&cfg.MailFrom, "mail-from", "WRITEPATH_MAIL_FROM",
		"writepath <orders@writepath.invalid>", "From address of emails")
	f.durationVar(&cfg.Queue.BacklogBudget, "backlog-budget", "WRITEPATH_BACKLOG_BUDGET",
		30*time.Second, "oldest must-deliver job age past which new orders get 503 overloaded")
	f.stringVar(&cfg.PaymentPolicy, "payment-policy", "WRITEPATH_PAYMENT_POLICY", "queue",
		`when a payment cannot be sent: "queue" (accept, charge later) or "reject" (503)`)
	f.durationVar(&cfg.PaymentRetryWindow, "payment-retry-window",
		"WRITEPATH_PAYMENT_RETRY_WINDOW", 15*time.Minute,
		"how long a queued payment is retried before the order fails")
	f.durationVar(&cfg.ProviderTimeout, "provider-timeout", "WRITEPATH_PROVIDER_TIMEOUT",
		10*time.Second, "bound on one payment provider call (inside its circuit breaker)")
	logger := f.logFlag(stderr)
	if err := f.parse(args); err != nil {
		return err
	}

	log, err := logger()
	if err != nil {
		return err
	}
	if cfg.PaymentPolicy != "queue" && cfg.PaymentPolicy != "reject" {
		return &usageError{fmt.Sprintf("--payment-policy %q: want queue or reject", cfg.PaymentPolicy)}
	}
	cfg.Logger = log
	cfg.OnDemoKey = func(key string) { fmt.Fprintf(stdout, "demo API key: %s\n", key) }
	a, err := app.New(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "writepath is serving on http://%s\n", a.Addr())
	return a.Run(ctx)
}

func runProvider(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var addr string
	f := newFlags("provider", stderr)
	f.stringVar(&addr, "addr", "WRITEPATH_PROVIDER_ADDR", "127.0.0.1:8090", "address to listen on")
	logger := f.logFlag(stderr)
	if err := f.parse(args); err != nil {
		return err
	}
	log, err := logger()
	if err != nil {
		return err
	}

	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fake := fakeprovider.New(fakeprovider.Options{Logger: log})
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(stdout, "fake payment provider on http://%s\n", l.Addr())
	log.Info("provider serving", slog.String("addr", l.Addr().String()))

	go func() {
		<-ctx.Done()
		fake.Close() // releases requests held by the hang fault
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var database string
	f := newFlags("migrate", stderr)
	f.databaseFlag(&database)
	if err := f.parse(args); err != nil {
		return err
	}
	db, err := store.Open(ctx, database)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %d migrations\n", n)
	return nil
}

func tenants(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return &usageError{"usage: writepath tenants create --name NAME"}
	}
	var name, database string
	f := newFlags("tenants create", stderr)
	f.StringVar(&name, "name", "", "the tenant's name (required)")
	f.databaseFlag(&database)
	if err := f.parse(args[1:]); err != nil {
		return err
	}
	if name == "" {
		return &usageError{"tenants create: --name is required"}
	}

	db, err := openMigrated(ctx, database)
	if err != nil {
		return err
	}
	defer db.Close()
	_, key, err := db.CreateTenant(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, key)
	return nil
}

// openMigrated opens the database and brings its schema up to date.
func openMigrated(ctx context.Context, database string) (*store.DB, error) {
	db, err := store.Open(ctx, database)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
