package idempotency

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// CompleteAbandoned resumes requests that committed at least one step and
// whose lease expired without a result: their process died, or they were
// left unfinished to be tried again. Each is taken over exactly as a client
// retry would, so a retry and the completer never run one request at once.
// It returns how many requests it resumed.
func (e *Engine) CompleteAbandoned(ctx context.Context) (int, error) {
	now := e.now()
	recs, err := e.store.abandoned(ctx, now, 50)
	if err != nil {
		return 0, err
	}

	resumed := 0
	for _, rec := range recs {
		route, ok := e.routes[rec.Route]
		if !ok {
			continue // served by another version of the service
		}
		ok, err := e.store.takeOver(ctx, rec, newToken(), now.Add(e.opts.Lease), now)
		if err != nil {
			return resumed, err
		}
		if !ok {
			continue // a retry took it first
		}

		resumed++
		resp, err := e.run(ctx, rec, route, true)
		e.observe(route, "resumed")
		log := e.log.With(slog.String("route", rec.Route), slog.String("key_hash", rec.KeyHash[:16]),
			slog.Int("attempt", rec.Attempts))
		switch {
		case err != nil:
			log.WarnContext(ctx, "resumed request failed", slog.Any("error", err))
		case resp.Unfinished:
			log.InfoContext(ctx, "resumed request still unfinished", slog.Int("status", resp.Status))
		default:
			log.InfoContext(ctx, "resumed request completed", slog.Int("status", resp.Status))
		}
	}
	return resumed, nil
}

// Reap drops stored responses older than the retention period. The keys stay
// bound to the resources their requests created, so a late retry still cannot
// create a second one. It returns how many records it changed.
func (e *Engine) Reap(ctx context.Context) (int64, error) {
	now := e.now()
	return e.store.reap(ctx, now.Add(-e.opts.Retention), now)
}

// Run completes abandoned requests every interval and reaps every
// Options.ReapEvery, until ctx is done.
func (e *Engine) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	lastReap := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}

		if _, err := e.CompleteAbandoned(ctx); err != nil && !errors.Is(err, context.Canceled) {
			e.log.WarnContext(ctx, "complete abandoned requests", slog.Any("error", err))
		}
		if time.Since(lastReap) >= e.opts.ReapEvery {
			lastReap = time.Now()
			if n, err := e.Reap(ctx); err != nil && !errors.Is(err, context.Canceled) {
				e.log.WarnContext(ctx, "reap keys", slog.Any("error", err))
			} else if n > 0 {
				e.log.InfoContext(ctx, "reaped keys", slog.Int64("records", n))
			}
		}
	}
}

// Unfinished returns how many requests have committed steps but no result
// yet: requests running now, and requests waiting to be resumed.
func (e *Engine) Unfinished(ctx context.Context) (int, error) {
	var n int
	err := e.opts.DB.QueryRowContext(ctx, `SELECT count(*) FROM `+e.opts.Table+`
		WHERE state = $1 AND recovery_point <> ''`, stateRunning).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count unfinished: %w", err)
	}
	return n, nil
}
