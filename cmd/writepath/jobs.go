package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/mail"
	"github.com/writepath/writepath/internal/queue"
	"github.com/writepath/writepath/internal/store"
	"github.com/writepath/writepath/internal/webhook"
)

// jobs lists and replays dead side effects across tenants: the operator's
// view of the dead letters.
func jobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "dead" && args[0] != "replay") {
		return &usageError{"usage: writepath jobs dead | writepath jobs replay ID"}
	}
	var database string
	f := newFlags("jobs "+args[0], stderr)
	f.databaseFlag(&database)
	rest := args[1:]
	var id string
	if args[0] == "replay" {
		if len(rest) == 0 || rest[0] == "" || rest[0][0] == '-' {
			return &usageError{"jobs replay: give the id of a side effect"}
		}
		id, rest = rest[0], rest[1:]
	}
	if err := f.parse(rest); err != nil {
		return err
	}

	db, err := openMigrated(ctx, database)
	if err != nil {
		return err
	}
	defer db.Close()
	q, err := operatorQueue(db)
	if err != nil {
		return err
	}
	if id != "" {
		return replayJob(ctx, q, id, stdout)
	}
	return listDead(ctx, q, stdout)
}

// operatorQueue is a queue that is never started: it only reads and
// replays jobs, which the serving instances then work.
func operatorQueue(db *store.DB) (*queue.Queue, error) {
	return queue.New(queue.Options{DB: db, Mail: mail.Dir{Path: "."},
		Webhooks: webhook.NewSender(webhook.Guard{}),
		Breakers: breaker.NewSet("webhook:", breaker.Options{}),
		Logger:   slog.New(slog.DiscardHandler)})
}

func listDead(ctx context.Context, q *queue.Queue, stdout io.Writer) error {
	dead, err := q.Dead(ctx, "", 1000)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tORDER\tATTEMPTS\tCREATED\tLAST ERROR")
	for _, e := range dead {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.Kind, e.OrderID, e.Attempts,
			e.CreatedAt.Format(time.RFC3339), e.LastError)
	}
	return tw.Flush()
}

func replayJob(ctx context.Context, q *queue.Queue, id string, stdout io.Writer) error {
	e, err := q.Replay(ctx, "", id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("jobs replay: no side effect %q", id)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s replayed; status %s\n", e.ID, e.Status)
	return nil
}
