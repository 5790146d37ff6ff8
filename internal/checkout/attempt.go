package checkout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/metrics"
	"github.com/writepath/writepath/internal/order"
	"github.com/writepath/writepath/internal/provider"
	"github.com/writepath/writepath/internal/store"
)

// outcome is what one payment attempt came to. The four kinds are kept apart
// all the way to the API: only a definitive answer settles the order.
type outcome int

const (
	// succeeded and declined are definitive answers.
	succeeded outcome = iota
	declined
	// notSent: the breaker was open or the provider refused before
	// executing. Safe to send again.
	notSent
	// unknown: sent, no answer. Settled with the same key, never a new one.
	unknown
)

// result is an attempt's outcome with what came with it.
type result struct {
	kind       outcome
	payment    provider.Payment
	failure    *order.Failure
	retryAfter time.Duration // for notSent: when the provider may take it
	err        error
}

// attempt sends the order's current payment attempt to the provider,
// through the breaker, with the attempt's own provider key.
func (s *Service) attempt(ctx context.Context, o *order.Order) result {
	var p provider.Payment
	start := time.Now()
	err := s.opts.Breaker.Do(ctx, func(ctx context.Context) error {
		var err error
		p, err = s.opts.Provider.CreatePayment(ctx, provider.PaymentParams{
			IdempotencyKey: ProviderKey(o.TenantID, o.ID, o.Payment.Attempt),
			Amount:         o.Amount, Currency: o.Currency,
			PaymentMethod: o.Payment.Method, OrderID: o.ID,
		})
		return err
	})
	r := s.classify(p, err)
	s.opts.Metrics.ProviderRequest("create_payment", outcomeLabel(r, err), time.Since(start))
	return r
}

// classify turns a provider answer into an outcome.
func (s *Service) classify(p provider.Payment, err error) result {
	var decline *provider.DeclineError
	var refused *provider.NotSentError
	switch {
	case err == nil:
		return result{kind: succeeded, payment: p}
	case errors.As(err, &decline):
		return result{kind: declined, err: err, failure: &order.Failure{
			Code: order.FailureCardDeclined, DeclineCode: decline.Code, Message: decline.Message}}
	case errors.Is(err, provider.ErrInvalidRequest):
		return result{kind: declined, err: err, failure: &order.Failure{
			Code:    order.FailureInvalidPaymentMethod,
			Message: "The payment provider refused this payment method."}}
	case errors.Is(err, breaker.ErrOpen):
		return result{kind: notSent, err: err,
			retryAfter: max(s.opts.Breaker.Snapshot().NextProbeIn, time.Second)}
	case errors.As(err, &refused):
		return result{kind: notSent, err: err, retryAfter: max(refused.RetryAfter, time.Second)}
	}
	// A timeout, a dropped connection or an unreadable answer: it may have
	// charged.
	return result{kind: unknown, err: err}
}

func outcomeLabel(r result, err error) string {
	switch {
	case errors.Is(err, breaker.ErrOpen):
		return "breaker_open"
	case r.kind == succeeded:
		return metrics.ProviderSucceeded
	case r.kind == declined:
		return metrics.ProviderDeclined
	case r.kind == notSent:
		return metrics.ProviderNotSent
	}
	return metrics.ProviderUnknown
}

// settle moves the order by a definitive result, inside tx, and enqueues
// the side effects of a completed order there too. It returns the HTTP
// status that reports the order.
func (s *Service) settle(ctx context.Context, tx *sql.Tx, o *order.Order, r result) (int, error) {
	switch r.kind {
	case succeeded:
		ref := r.payment.ID
		o.Payment.ProviderReference = &ref
		if err := s.move(o, order.Completed, order.PaymentSucceeded); err != nil {
			return 0, err
		}
		if err := store.UpdateOrder(ctx, tx, o); err != nil {
			return 0, err
		}
		if s.opts.Effects != nil {
			effects, err := s.opts.Effects.EnqueueOrderEffects(ctx, tx, o)
			if err != nil {
				return 0, fmt.Errorf("enqueue side effects: %w", err)
			}
			o.SideEffects = effects
		}
		return http.StatusCreated, nil
	case declined:
		o.Failure = r.failure
		if err := s.move(o, order.Failed, order.PaymentDeclined); err != nil {
			return 0, err
		}
		return http.StatusPaymentRequired, store.UpdateOrder(ctx, tx, o)
	}
	return 0, fmt.Errorf("settle: outcome %d is not definitive", r.kind)
}

// deferPayment moves the order to queued with its payment deferred: not sent.
func (s *Service) deferPayment(ctx context.Context, tx *sql.Tx, o *order.Order) error {
	if err := s.move(o, order.Queued, order.PaymentDeferred); err != nil {
		return err
	}
	return store.UpdateOrder(ctx, tx, o)
}

// markUnknown records that the payment was sent and got no answer.
func (s *Service) markUnknown(ctx context.Context, tx *sql.Tx, o *order.Order) error {
	if err := s.move(o, order.Processing, order.PaymentUnknown); err != nil {
		return err
	}
	return store.UpdateOrder(ctx, tx, o)
}

// markSent records, before the provider is called, that the attempt may
// reach it from now on: a crash after this point resends the same key.
func (s *Service) markSent(ctx context.Context, tx *sql.Tx, o *order.Order) error {
	if err := s.move(o, order.Processing, order.PaymentInFlight); err != nil {
		return err
	}
	return store.UpdateOrder(ctx, tx, o)
}
