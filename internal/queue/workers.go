package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/mail"
	"github.com/writepath/writepath/internal/store"
	"github.com/writepath/writepath/internal/webhook"
)

// errPermanent marks an effect that no retry can make happen.
var errPermanent = errors.New("permanent failure")

// runEffect works one effect under the ledger: an effect already done is
// not done again (the job ran twice), a success is recorded before the job
// completes, and a failure is classified into retry later, snooze (not sent,
// not counted as an attempt) or give up.
func (q *Queue) runEffect(ctx context.Context, kind string, job *rivertype.JobRow, effectID string,
	do func(ctx context.Context, e *store.Effect) error) error {
	e, err := store.GetEffect(ctx, q.opts.DB.SQL, effectID)
	if err != nil {
		return fmt.Errorf("load effect %s: %w", effectID, err)
	}
	if e.Done {
		q.opts.Metrics.JobOutcome(kind, "duplicate")
		return nil
	}
	err = q.recordAndTouch(ctx, e.OrderID, func(tx *sql.Tx) error {
		return store.SetEffectStatus(ctx, tx, e.ID, "running")
	})
	if err != nil {
		return err
	}

	err = do(ctx, e)
	if err == nil {
		err := q.recordAndTouch(ctx, e.OrderID, func(tx *sql.Tx) error {
			_, err := store.MarkEffectDone(ctx, tx, e.ID, time.Now())
			return err
		})
		if err != nil {
			return err // retried; the effect's own key makes the repeat harmless
		}
		q.opts.Metrics.JobOutcome(kind, "done")
		return nil
	}
	return q.failed(ctx, kind, job, e, err)
}

// recordAndTouch writes what a job learned about an effect and bumps its
// order's version in one transaction, then tells the order's watchers.
func (q *Queue) recordAndTouch(ctx context.Context, orderID string, fn func(*sql.Tx) error) error {
	err := q.opts.DB.Tx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return store.TouchOrder(ctx, tx, orderID, time.Now().UTC().Truncate(time.Millisecond))
	})
	if err == nil && q.opts.OnOrderChanged != nil {
		q.opts.OnOrderChanged(orderID)
	}
	return err
}

func (q *Queue) failed(ctx context.Context, kind string, job *rivertype.JobRow, e *store.Effect,
	err error) error {
	log := q.log.With(slog.String("kind", kind), slog.String("effect_id", e.ID),
		slog.String("order_id", e.OrderID), slog.Int("attempt", job.Attempt))

	// Decide what happens next, record it with the error, then tell River.
	var open *openError
	status, outcome, next := "retrying", "retry", err
	switch {
	case errors.As(err, &open):
		outcome, next = "snoozed", river.JobSnooze(open.wait)
	case errors.Is(err, errPermanent):
		log.WarnContext(ctx, "effect given up", slog.Any("error", err))
		status, outcome, next = "dead", "dead", river.JobCancel(err)
	case job.Attempt >= job.MaxAttempts:
		log.WarnContext(ctx, "effect out of attempts", slog.Any("error", err))
		status, outcome = "dead", "dead"
	default:
		log.InfoContext(ctx, "effect failed; will retry", slog.Any("error", err))
	}

	rerr := q.recordAndTouch(context.WithoutCancel(ctx), e.OrderID, func(tx *sql.Tx) error {
		return store.SetEffectError(ctx, tx, e.ID, status, err.Error())
	})
	if rerr != nil {
		log.WarnContext(ctx, "record effect error", slog.Any("error", rerr))
	}
	q.opts.Metrics.JobOutcome(kind, outcome)
	return next
}

// openError says a destination's breaker is open: nothing was sent.
type openError struct{ wait time.Duration }

func (e *openError) Error() string {
	return "destination breaker open; not sent, next try in " + e.wait.String()
}

type emailWorker struct {
	river.WorkerDefaults[EmailArgs]
	q *Queue
}

// Work sends the confirmation email, with a Message-ID derived from the
// order so that a repeated send is recognisable as the same message.
func (w *emailWorker) Work(ctx context.Context, job *river.Job[EmailArgs]) error {
	return w.q.runEffect(ctx, job.Kind, job.JobRow, job.Args.EffectID,
		func(ctx context.Context, e *store.Effect) error {
			o, err := store.GetOrder(ctx, w.q.opts.DB.SQL, e.TenantID, e.OrderID)
			if err != nil {
				return err
			}
			msg := mail.Message{
				ID:      o.ID + ".confirmation@writepath.invalid",
				From:    w.q.opts.MailFrom,
				To:      o.CustomerEmail,
				Subject: "Your order " + o.ID + " is confirmed",
				Text:    confirmationText(o.ID, o.Amount, o.Currency, len(o.Items)),
				Date:    o.UpdatedAt,
			}
			if err := w.q.opts.Mail.Send(ctx, msg); err != nil {
				if mail.IsPermanent(err) {
					return fmt.Errorf("%w: %w", errPermanent, err)
				}
				return err
			}
			return nil
		})
}

func confirmationText(id string, amount int64, currency string, items int) string {
	return fmt.Sprintf("Thank you for your order.\n\nOrder: %s\nItems: %d\nTotal: %d.%02d %s\n\n"+
		"You will find its status at any time under this order number.\n",
		id, items, amount/100, amount%100, strings.ToUpper(currency))
}

type webhookWorker struct {
	river.WorkerDefaults[WebhookArgs]
	q *Queue
}

// Work delivers one webhook message through the breaker of its destination
// host. The message keeps its webhook-id and body across retries; only the
// timestamp and signature are new on each attempt.
func (w *webhookWorker) Work(ctx context.Context, job *river.Job[WebhookArgs]) error {
	return w.q.runEffect(ctx, job.Kind, job.JobRow, job.Args.EffectID,
		func(ctx context.Context, e *store.Effect) error {
			ep, err := store.GetWebhookEndpoint(ctx, w.q.opts.DB.SQL, e.TenantID, e.EndpointID)
			if err != nil {
				return fmt.Errorf("%w: endpoint: %w", errPermanent, err)
			}
			u, err := url.Parse(ep.URL)
			if err != nil {
				return fmt.Errorf("%w: endpoint url: %w", errPermanent, err)
			}
			b := w.q.opts.Breakers.For(u.Host)
			err = b.Do(ctx, func(ctx context.Context) error {
				_, err := w.q.opts.Webhooks.Send(ctx, webhook.Delivery{URL: ep.URL, Secret: ep.Secret,
					MessageID: e.ID, Timestamp: time.Now(), Body: e.Payload})
				return err
			})
			return classifyWebhook(err, b)
		})
}

// classifyWebhook maps a delivery error to what the job does next.
func classifyWebhook(err error, b *breaker.Breaker) error {
	var status *webhook.StatusError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, breaker.ErrOpen):
		wait := b.Snapshot().NextProbeIn
		return &openError{wait: max(wait, time.Second)}
	case errors.Is(err, webhook.ErrPrivateAddress):
		return fmt.Errorf("%w: %w", errPermanent, err)
	case errors.As(err, &status) && !status.Retryable():
		return fmt.Errorf("%w: %w", errPermanent, err)
	}
	return err
}

type analyticsWorker struct {
	river.WorkerDefaults[AnalyticsArgs]
	q *Queue
}

// Work records the event in the built-in analytics sink; repeats are
// ignored by the sink.
func (w *analyticsWorker) Work(ctx context.Context, job *river.Job[AnalyticsArgs]) error {
	err := store.RecordAnalytics(ctx, w.q.opts.DB.SQL, job.Args.OrderID, job.Args.Event, time.Now())
	outcome := "done"
	if err != nil {
		outcome = "retry"
	}
	w.q.opts.Metrics.JobOutcome(job.Kind, outcome)
	return err
}
