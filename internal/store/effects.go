package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/writepath/writepath/internal/order"
)

// Effect kinds: the side effects of a completed order.
const (
	EffectEmail     = "confirmation_email"
	EffectWebhook   = "webhook"
	EffectAnalytics = "analytics"
)

// Effect is one side effect of an order: an email to send, a webhook to
// deliver to one endpoint, an analytics event. It is worked by a queue job;
// its row is the ledger that makes the effect happen once although the job
// may run more than once.
type Effect struct {
	ID         string // also the effect's idempotency key outside (webhook-id)
	OrderID    string
	TenantID   string
	Kind       string
	EndpointID string // webhook endpoint, or ""
	Payload    []byte // the exact bytes to deliver, fixed at enqueue time
	JobID      int64
	LastError  string
	Done       bool
	CreatedAt  time.Time

	// Status is queued, running, retrying, done or dead. The workers write
	// it in the same transaction that bumps the order's version, so that a
	// reader of the order sees each change of it as a new version.
	Status string
	// Attempts is how many times the job has been tried.
	Attempts int
}

// InsertEffect records a side effect to be worked by job jobID.
func InsertEffect(ctx context.Context, q Querier, e *Effect) error {
	_, err := q.ExecContext(ctx, `INSERT INTO order_effects (id, order_id, tenant_id, kind,
		endpoint_id, payload, job_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, e.OrderID, e.TenantID, e.Kind, e.EndpointID, e.Payload, e.JobID,
		e.CreatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("insert effect: %w", err)
	}
	return nil
}

// SetEffectJob points an effect at the job now working it, queued again
// (after a replay).
func SetEffectJob(ctx context.Context, q Querier, id string, jobID int64) error {
	_, err := q.ExecContext(ctx, `UPDATE order_effects SET job_id = $1, done_at = NULL,
		status = 'queued' WHERE id = $2`, jobID, id)
	if err != nil {
		return fmt.Errorf("set effect job: %w", err)
	}
	return nil
}

// MarkEffectDone records that an effect happened. It reports false when it
// had been recorded before: the job ran twice, and the effect must not.
func MarkEffectDone(ctx context.Context, q Querier, id string, at time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE order_effects SET done_at = $1, last_error = NULL,
		status = 'done' WHERE id = $2 AND done_at IS NULL`, at.UnixMilli(), id)
	if err != nil {
		return false, fmt.Errorf("mark effect done: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetEffectStatus records where an effect stands: running when a job
// starts on it, retrying or dead after a failed attempt, queued after a
// replay.
func SetEffectStatus(ctx context.Context, q Querier, id, status string) error {
	_, err := q.ExecContext(ctx, `UPDATE order_effects SET status = $1 WHERE id = $2
		AND done_at IS NULL`, status, id)
	if err != nil {
		return fmt.Errorf("set effect status: %w", err)
	}
	return nil
}

// SetEffectError records a failed attempt of an effect: why, and what
// happens next (status retrying or dead).
func SetEffectError(ctx context.Context, q Querier, id, status, msg string) error {
	if len(msg) > 500 {
		msg = msg[:500]
	}
	_, err := q.ExecContext(ctx, `UPDATE order_effects SET last_error = $1, status = $2
		WHERE id = $3 AND done_at IS NULL`, msg, status, id)
	if err != nil {
		return fmt.Errorf("set effect error: %w", err)
	}
	return nil
}

const effectColumns = `e.id, e.order_id, e.tenant_id, e.kind, e.endpoint_id, e.payload,
	e.job_id, e.last_error, e.done_at, e.created_at, e.status, j.attempt`

// effectFrom joins an effect to its job, which counts the attempts.
const effectFrom = ` FROM order_effects e LEFT JOIN river_job j ON j.id = e.job_id`

// GetEffect returns one effect, or ErrNotFound.
func GetEffect(ctx context.Context, q Querier, id string) (*Effect, error) {
	row := q.QueryRowContext(ctx, `SELECT `+effectColumns+effectFrom+` WHERE e.id = $1`, id)
	e, err := scanEffect(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return e, err
}

// EffectsOfOrder lists an order's effects, oldest first.
func EffectsOfOrder(ctx context.Context, q Querier, orderID string) ([]*Effect, error) {
	return listEffects(ctx, q, `SELECT `+effectColumns+effectFrom+`
		WHERE e.order_id = $1 ORDER BY e.created_at, e.id`, orderID)
}

// EffectsOfEndpoint lists the deliveries to a tenant's webhook endpoint,
// newest first.
func EffectsOfEndpoint(ctx context.Context, q Querier, tenantID, endpointID string,
	limit int) ([]*Effect, error) {
	return listEffects(ctx, q, `SELECT `+effectColumns+effectFrom+`
		WHERE e.tenant_id = $1 AND e.endpoint_id = $2 ORDER BY e.created_at DESC, e.id
		LIMIT $3`, tenantID, endpointID, limit)
}

// DeadEffects lists a tenant's effects whose jobs ran out of attempts or were
// given up, newest first. An empty tenantID lists every tenant's.
func DeadEffects(ctx context.Context, q Querier, tenantID string, limit int) ([]*Effect, error) {
	return listEffects(ctx, q, `SELECT `+effectColumns+effectFrom+`
		WHERE ($1 = '' OR e.tenant_id = $1) AND e.status = 'dead'
		ORDER BY e.created_at DESC, e.id LIMIT $2`, tenantID, limit)
}

func listEffects(ctx context.Context, q Querier, query string, args ...any) ([]*Effect, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list effects: %w", err)
	}
	defer rows.Close()
	var out []*Effect
	for rows.Next() {
		e, err := scanEffect(rows)
		if err != nil {
			return nil, fmt.Errorf("list effects: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func scanEffect(row rowScanner) (*Effect, error) {
	var (
		e             Effect
		jobID, doneAt sql.NullInt64
		lastErr       sql.NullString
		attempt       sql.NullInt64
		createdAt     int64
	)
	err := row.Scan(&e.ID, &e.OrderID, &e.TenantID, &e.Kind, &e.EndpointID, &e.Payload,
		&jobID, &lastErr, &doneAt, &createdAt, &e.Status, &attempt)
	if err != nil {
		return nil, err
	}
	e.JobID, e.LastError, e.Done = jobID.Int64, lastErr.String, doneAt.Valid
	e.CreatedAt = time.UnixMilli(createdAt).UTC()
	e.Attempts = int(attempt.Int64)
	return &e, nil
}

// sideEffects is the order's view of its effects. Analytics are best effort
// and not shown.
func sideEffects(effects []*Effect) []order.SideEffect {
	out := []order.SideEffect{}
	for _, e := range effects {
		if e.Kind == EffectAnalytics {
			continue
		}
		out = append(out, order.SideEffect{Kind: e.Kind, Status: e.Status})
	}
	return out
}
