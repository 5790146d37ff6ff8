package checkout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/order"
	"github.com/writepath/writepath/internal/provider"
	"github.com/writepath/writepath/internal/store"
)

// ErrUnsettled means a payment's outcome is still unknown after a
// reconciliation: the job is retried later with backoff.
var ErrUnsettled = errors.New("payment outcome still unknown")

// ChargeQueued is the background job for an order whose payment could not
// be sent: it sends the same attempt, with the same provider key, once the
// breaker lets calls through. It returns how long to wait before trying
// again (zero when the job is done), or an error to retry with backoff.
//
// An order that waited past the retry window without its payment ever being
// sent fails with payment_unavailable: nothing was charged. One whose
// payment may have been sent is never abandoned.
func (s *Service) ChargeQueued(ctx context.Context, tenantID, orderID string,
	attempt int) (time.Duration, error) {
	o, err := s.Order(ctx, tenantID, orderID)
	if err != nil {
		return 0, err
	}
	sendable := o.Payment.Status == order.PaymentDeferred || o.Payment.Status == order.PaymentInFlight
	if o.Payment.Attempt != attempt || o.Status.Final() || !sendable {
		return 0, nil // settled or moved on since the job was enqueued
	}
	if o.Payment.Status == order.PaymentDeferred && s.now().Sub(o.Payment.StartedAt) > s.opts.RetryWindow {
		return 0, s.abandon(ctx, o)
	}
	if snap := s.opts.Breaker.Snapshot(); snap.State == breaker.StateOpen {
		return max(snap.NextProbeIn, time.Second), nil
	}

	if err := s.inTx(ctx, o, func(tx *sql.Tx) error { return s.markSent(ctx, tx, o) }); err != nil {
		return 0, err
	}
	r := s.attempt(ctx, o)
	switch r.kind {
	case succeeded, declined:
		return 0, s.settleInTx(ctx, o, r)
	case notSent:
		return r.retryAfter, s.inTx(ctx, o, func(tx *sql.Tx) error {
			return s.deferPayment(ctx, tx, o)
		})
	}
	return 0, s.inTx(ctx, o, func(tx *sql.Tx) error {
		if err := s.markUnknown(ctx, tx, o); err != nil {
			return err
		}
		return s.opts.Jobs.EnqueueReconcile(ctx, tx, o)
	})
}

// Reconcile is the background job for a payment whose outcome is unknown.
// It sends the same attempt with the same provider key, which the provider
// answers with the first result; if that gets no answer either, it looks the
// payment up by order. It never starts a new charge. It returns how long to
// wait before trying again, or ErrUnsettled to retry with backoff.
func (s *Service) Reconcile(ctx context.Context, tenantID, orderID string,
	attempt int) (time.Duration, error) {
	o, err := s.Order(ctx, tenantID, orderID)
	if err != nil {
		return 0, err
	}
	if o.Payment.Attempt != attempt || o.Status.Final() {
		return 0, nil
	}

	r := s.attempt(ctx, o)
	switch r.kind {
	case succeeded, declined:
		return 0, s.settleInTx(ctx, o, r)
	case notSent:
		return r.retryAfter, nil // still unknown; the order keeps saying so
	}

	if p, ok := s.lookUp(ctx, o); ok {
		return 0, s.settleInTx(ctx, o, result{kind: succeeded, payment: p})
	}
	return 0, fmt.Errorf("order %s attempt %d: %w", o.ID, attempt, ErrUnsettled)
}

// lookUp searches the provider's payments of the order for a succeeded one.
// Earlier attempts of an order ended declined, and only one attempt is in
// flight at a time, so a succeeded payment belongs to the current attempt.
func (s *Service) lookUp(ctx context.Context, o *order.Order) (provider.Payment, bool) {
	var found []provider.Payment
	err := s.opts.Breaker.Do(ctx, func(ctx context.Context) error {
		var err error
		found, err = s.opts.Provider.FindPayments(ctx, o.ID)
		return err
	})
	if err != nil {
		s.log.InfoContext(ctx, "look up payment", slog.String("order_id", o.ID),
			slog.Any("error", err))
		return provider.Payment{}, false
	}
	for _, p := range found {
		if p.Status == provider.StatusSucceeded {
			return p, true
		}
	}
	return provider.Payment{}, false
}

// abandon fails an order whose payment was never sent within the window.
func (s *Service) abandon(ctx context.Context, o *order.Order) error {
	o.Failure = &order.Failure{Code: order.FailurePaymentUnavailable,
		Message: "The payment provider could not be reached in time. You have not been charged."}
	return s.inTx(ctx, o, func(tx *sql.Tx) error {
		if err := s.move(o, order.Failed, order.PaymentAbandoned); err != nil {
			return err
		}
		return store.UpdateOrder(ctx, tx, o)
	})
}

// settleInTx settles the order by a definitive result in a transaction of
// its own.
func (s *Service) settleInTx(ctx context.Context, o *order.Order, r result) error {
	return s.inTx(ctx, o, func(tx *sql.Tx) error {
		_, err := s.settle(ctx, tx, o, r)
		return err
	})
}

// inTx runs one background step in a transaction and tells the order's
// watchers once it committed.
func (s *Service) inTx(ctx context.Context, o *order.Order, fn func(*sql.Tx) error) error {
	if err := s.opts.DB.Tx(ctx, fn); err != nil {
		return err
	}
	s.committed(o, "background")
	return nil
}
