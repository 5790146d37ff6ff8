package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/writepath/writepath/internal/order"
)

// QueuePayments carries background payment work: charging queued orders and
// reconciling unknown outcomes.
const QueuePayments = "payments"

// Payments is the checkout's background payment work, as the payment jobs
// call it. Each returns how long to wait before the job runs again (zero:
// done), or an error to retry with backoff.
type Payments interface {
	ChargeQueued(ctx context.Context, tenantID, orderID string, attempt int) (time.Duration, error)
	Reconcile(ctx context.Context, tenantID, orderID string, attempt int) (time.Duration, error)
}

// SetPayments gives the payment jobs the checkout to call. It must be called
// before Start; the checkout in turn enqueues through the Queue, hence the
// two steps.
func (q *Queue) SetPayments(p Payments) { q.payments = p }

// ChargeArgs is the job that charges an order whose payment could not be
// sent, once the provider can be reached.
type ChargeArgs struct {
	TenantID string `json:"tenant_id"`
	OrderID  string `json:"order_id"`
	Attempt  int    `json:"attempt"`
}

// Kind implements river.JobArgs.
func (ChargeArgs) Kind() string { return "charge_payment" }

// InsertOpts puts the job on the payments queue, once per payment attempt.
func (ChargeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueuePayments, MaxAttempts: 50,
		UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ReconcileArgs is the job that settles a payment whose outcome is unknown.
type ReconcileArgs struct {
	TenantID string `json:"tenant_id"`
	OrderID  string `json:"order_id"`
	Attempt  int    `json:"attempt"`
}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return "reconcile_payment" }

// InsertOpts puts the job on the payments queue, once per payment attempt,
// with many attempts: it ends when the outcome is known.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueuePayments, MaxAttempts: 100,
		UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// EnqueueCharge enqueues, inside tx, the charge of an order's current
// attempt, to run at the given time.
func (q *Queue) EnqueueCharge(ctx context.Context, tx *sql.Tx, o *order.Order, at time.Time) error {
	_, err := q.client.InsertTx(ctx, tx, ChargeArgs{TenantID: o.TenantID, OrderID: o.ID,
		Attempt: o.Payment.Attempt}, &river.InsertOpts{ScheduledAt: at})
	if err != nil {
		return fmt.Errorf("enqueue charge: %w", err)
	}
	return nil
}

// EnqueueReconcile enqueues, inside tx, the reconciliation of an order's
// current attempt.
func (q *Queue) EnqueueReconcile(ctx context.Context, tx *sql.Tx, o *order.Order) error {
	_, err := q.client.InsertTx(ctx, tx, ReconcileArgs{TenantID: o.TenantID, OrderID: o.ID,
		Attempt: o.Payment.Attempt}, nil)
	if err != nil {
		return fmt.Errorf("enqueue reconcile: %w", err)
	}
	return nil
}

type chargeWorker struct {
	river.WorkerDefaults[ChargeArgs]
	q *Queue
}

// Work charges the queued order, or snoozes while the provider is out of
// reach: a snooze is not a failed attempt.
func (w *chargeWorker) Work(ctx context.Context, job *river.Job[ChargeArgs]) error {
	a := job.Args
	wait, err := w.q.payments.ChargeQueued(ctx, a.TenantID, a.OrderID, a.Attempt)
	return w.q.paymentResult(job.Kind, wait, err)
}

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	q *Queue
}

// Work settles the unknown payment, or tries again later.
func (w *reconcileWorker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	a := job.Args
	wait, err := w.q.payments.Reconcile(ctx, a.TenantID, a.OrderID, a.Attempt)
	return w.q.paymentResult(job.Kind, wait, err)
}

func (q *Queue) paymentResult(kind string, wait time.Duration, err error) error {
	switch {
	case err != nil:
		q.opts.Metrics.JobOutcome(kind, "retry")
		return err
	case wait > 0:
		q.opts.Metrics.JobOutcome(kind, "snoozed")
		return river.JobSnooze(wait)
	}
	q.opts.Metrics.JobOutcome(kind, "done")
	return nil
}

var errNoPayments = errors.New("queue: SetPayments was not called")
