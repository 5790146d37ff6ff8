package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/writepath/writepath/internal/store"
)

// ErrNotReplayable means an effect is still on its way (queued, running or
// retrying): replaying it now could deliver it twice.
var ErrNotReplayable = errors.New("effect is still queued or running")

// Dead lists effects that ran out of attempts or were given up, newest
// first; an empty tenantID lists every tenant's.
func (q *Queue) Dead(ctx context.Context, tenantID string, limit int) ([]*store.Effect, error) {
	return store.DeadEffects(ctx, q.opts.DB.SQL, tenantID, limit)
}

// Replay runs an effect again. A dead effect's job is retried as it is; a
// delivered effect (a webhook the receiver lost, say) gets a new job that
// sends the same message again, with the same idempotency key. It returns
// store.ErrNotFound for an effect of another tenant (unless tenantID is
// empty: an operator) and ErrNotReplayable while the effect is on its way.
func (q *Queue) Replay(ctx context.Context, tenantID, effectID string) (*store.Effect, error) {
	e, err := store.GetEffect(ctx, q.opts.DB.SQL, effectID)
	if err != nil {
		return nil, err
	}
	if tenantID != "" && e.TenantID != tenantID {
		return nil, store.ErrNotFound
	}

	switch e.Status {
	case "dead":
		// The ledger says dead as the last attempt fails; River finishes the
		// job a moment later, and only a finished job can be retried.
		job, gerr := q.client.JobGet(ctx, e.JobID)
		if gerr != nil {
			return nil, fmt.Errorf("replay %s: %w", e.ID, gerr)
		}
		if job.State != rivertype.JobStateDiscarded && job.State != rivertype.JobStateCancelled {
			return nil, ErrNotReplayable
		}
		err = q.recordAndTouch(ctx, e.OrderID, func(tx *sql.Tx) error {
			if _, err := q.client.JobRetryTx(ctx, tx, e.JobID); err != nil {
				return err
			}
			return store.SetEffectStatus(ctx, tx, e.ID, "queued")
		})
	case "done":
		err = q.recordAndTouch(ctx, e.OrderID, func(tx *sql.Tx) error {
			res, err := q.client.InsertTx(ctx, tx, argsFor(e), nil)
			if err != nil {
				return err
			}
			return store.SetEffectJob(ctx, tx, e.ID, res.Job.ID)
		})
	default:
		return nil, ErrNotReplayable
	}
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", e.ID, err)
	}
	return store.GetEffect(ctx, q.opts.DB.SQL, effectID)
}

func argsFor(e *store.Effect) river.JobArgs {
	if e.Kind == store.EffectWebhook {
		return WebhookArgs{EffectID: e.ID}
	}
	return EmailArgs{EffectID: e.ID}
}
