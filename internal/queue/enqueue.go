package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/writepath/writepath/internal/order"
	"github.com/writepath/writepath/internal/store"
)

// EmailArgs is the job that sends an order's confirmation email.
type EmailArgs struct {
	EffectID string `json:"effect_id"`
}

// Kind implements river.JobArgs.
func (EmailArgs) Kind() string { return "confirmation_email" }

// InsertOpts puts the job on the email queue.
func (EmailArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueEmail} }

// WebhookArgs is the job that delivers one webhook message to one endpoint.
type WebhookArgs struct {
	EffectID string `json:"effect_id"`
}

// Kind implements river.JobArgs.
func (WebhookArgs) Kind() string { return "webhook_delivery" }

// InsertOpts puts the job on the webhook queue.
func (WebhookArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueWebhook} }

// AnalyticsArgs is a best-effort analytics event. Events of one order and
// name are coalesced: a second one waiting in the queue is not added.
type AnalyticsArgs struct {
	OrderID string `json:"order_id"`
	Event   string `json:"event"`
}

// Kind implements river.JobArgs.
func (AnalyticsArgs) Kind() string { return "analytics_event" }

// InsertOpts puts the job on the analytics queue, unique per order and
// event, with few attempts and the lowest priority.
func (AnalyticsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueAnalytics, MaxAttempts: 3, Priority: 4,
		UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// WebhookEvent is the body of every webhook writepath sends.
type WebhookEvent struct {
	ID        string       `json:"id"`
	Type      string       `json:"type"`
	Timestamp time.Time    `json:"timestamp"`
	Data      *order.Order `json:"data"`
}

// EnqueueOrderEffects enqueues the side effects of a completed order inside
// tx: its confirmation email, one webhook delivery per endpoint of its
// tenant, and an analytics event. It returns the effects as the order shows
// them.
func (q *Queue) EnqueueOrderEffects(ctx context.Context, tx *sql.Tx,
	o *order.Order) ([]order.SideEffect, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	effects := []order.SideEffect{}

	email := &store.Effect{ID: store.NewID("eff"), OrderID: o.ID, TenantID: o.TenantID,
		Kind: store.EffectEmail, CreatedAt: now}
	if err := q.insertEffect(ctx, tx, email, EmailArgs{EffectID: email.ID}); err != nil {
		return nil, err
	}
	effects = append(effects, order.SideEffect{Kind: store.EffectEmail, Status: "queued"})

	endpoints, err := store.WebhookEndpoints(ctx, tx, o.TenantID)
	if err != nil {
		return nil, err
	}
	for _, ep := range endpoints {
		msgID := store.NewID("msg")
		body, err := json.Marshal(WebhookEvent{ID: msgID, Type: "order.completed",
			Timestamp: now, Data: o})
		if err != nil {
			return nil, fmt.Errorf("encode webhook: %w", err)
		}
		hook := &store.Effect{ID: msgID, OrderID: o.ID, TenantID: o.TenantID,
			Kind: store.EffectWebhook, EndpointID: ep.ID, Payload: body, CreatedAt: now}
		if err := q.insertEffect(ctx, tx, hook, WebhookArgs{EffectID: msgID}); err != nil {
			return nil, err
		}
		effects = append(effects, order.SideEffect{Kind: store.EffectWebhook, Status: "queued"})
	}

	q.enqueueAnalytics(ctx, tx, o.ID, "order.completed")
	return effects, nil
}

func (q *Queue) insertEffect(ctx context.Context, tx *sql.Tx, e *store.Effect,
	args river.JobArgs) error {
	res, err := q.client.InsertTx(ctx, tx, args, nil)
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", e.Kind, err)
	}
	e.JobID = res.Job.ID
	return store.InsertEffect(ctx, tx, e)
}

// enqueueAnalytics adds an analytics event unless the analytics queue is
// over its limit: best-effort events give way instead of growing a backlog.
// A failure to enqueue is logged, never returned: it must not fail the
// order.
func (q *Queue) enqueueAnalytics(ctx context.Context, tx *sql.Tx, orderID, event string) {
	if q.lag.Load().depth(QueueAnalytics) >= q.opts.AnalyticsLimit {
		q.opts.Metrics.AnalyticsDrop()
		return
	}
	// A savepoint keeps a failed insert from aborting the order's
	// transaction on PostgreSQL.
	if _, err := tx.ExecContext(ctx, "SAVEPOINT analytics"); err != nil {
		q.opts.Metrics.AnalyticsDrop()
		return
	}
	_, err := q.client.InsertTx(ctx, tx, AnalyticsArgs{OrderID: orderID, Event: event}, nil)
	if err != nil {
		_, _ = tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT analytics")
		q.opts.Metrics.AnalyticsDrop()
		q.log.WarnContext(ctx, "analytics event dropped", "order_id", orderID, "error", err)
		return
	}
	_, _ = tx.ExecContext(ctx, "RELEASE SAVEPOINT analytics")
}
