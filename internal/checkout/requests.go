package checkout

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/writepath/writepath/idempotency"
	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/order"
	"github.com/writepath/writepath/internal/problem"
	"github.com/writepath/writepath/internal/store"
)

// CreateOrder is the idempotent operation behind POST /v1/orders: it records
// the order, charges it and answers with the order. A resumed request
// continues from its recovery point.
func (s *Service) CreateOrder(ctx context.Context, c *idempotency.Call) (*idempotency.Response, error) {
	req, p := DecodeOrderRequest(c.Body)
	if p != nil {
		return problemResponse(p), nil
	}
	if c.RecoveryPoint() != "" {
		return s.resume(ctx, c)
	}
	if refusal := s.refuseWhileOpen(); refusal != nil {
		return refusal, nil
	}

	now := s.now()
	o := &order.Order{
		ID: store.NewID("ord"), TenantID: c.Scope, Status: order.Pending,
		Amount: req.Amount(), Currency: req.Currency, CustomerEmail: req.Customer.Email,
		Items: req.Items,
		Payment: order.Payment{Attempt: 1, Method: req.PaymentMethod,
			Status: order.PaymentNotStarted, StartedAt: now},
		SideEffects: []order.SideEffect{},
		Version:     1, CreatedAt: now, UpdatedAt: now,
	}
	err := c.Step(ctx, PointOrderCreated, o.ID, func(tx *sql.Tx) error {
		return store.InsertOrder(ctx, tx, o)
	})
	if err != nil {
		return nil, err
	}
	s.opts.Metrics.OrderCreated()
	s.committed(o, PointOrderCreated)
	return s.pay(ctx, c, o, nil, true)
}

// PayOrder is the idempotent operation behind POST /v1/orders/{id}/payments:
// a declined order is paid again with another payment method, as a new
// attempt with a provider key of its own. The attempt starts with a
// conditional update of the order, so two attempts can never be in flight:
// the second finds the order no longer payable.
func (s *Service) PayOrder(ctx context.Context, c *idempotency.Call) (*idempotency.Response, error) {
	req, p := DecodePaymentRequest(c.Body)
	if p != nil {
		return problemResponse(p), nil
	}
	if c.RecoveryPoint() != "" {
		return s.resume(ctx, c)
	}

	o, err := s.Order(ctx, c.Scope, c.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return problemResponse(problem.New(problem.NotFound,
			"No order with this id exists for this account.")), nil
	}
	if err != nil {
		return nil, err
	}
	if !payable(o) {
		return notPayable(o), nil
	}
	if refusal := s.refuseWhileOpen(); refusal != nil {
		return refusal, nil
	}

	prev := *o
	o.Payment = order.Payment{Attempt: o.Payment.Attempt + 1, Method: req.PaymentMethod,
		Status: o.Payment.Status, StartedAt: s.now()}
	o.Failure = nil
	if err := s.move(o, order.Processing, order.PaymentInFlight); err != nil {
		return nil, err
	}
	err = c.Step(ctx, PointAttemptStart, o.ID, func(tx *sql.Tx) error {
		return store.UpdateOrder(ctx, tx, o)
	})
	if errors.Is(err, store.ErrConflict) {
		return notPayable(o), nil // another attempt started first
	}
	if err != nil {
		return nil, err
	}
	s.committed(o, PointAttemptStart)
	return s.pay(ctx, c, o, &prev, true)
}

// resume continues a request that committed steps before: its order exists
// and its payment attempt is set, so it goes on with the payment.
func (s *Service) resume(ctx context.Context, c *idempotency.Call) (*idempotency.Response, error) {
	o, err := s.Order(ctx, c.Scope, c.ResourceID())
	if err != nil {
		return nil, err
	}
	return s.pay(ctx, c, o, nil, false)
}

// CurrentOrder answers a retry whose stored response has expired: the order
// the key created or paid, as it is now.
func (s *Service) CurrentOrder(ctx context.Context, c *idempotency.Call) (*idempotency.Response, error) {
	o, err := s.Order(ctx, c.Scope, c.ResourceID())
	if err != nil {
		return nil, err
	}
	return orderResponse(o, statusFor(o)), nil
}

// pay sends the order's current attempt to the provider and finishes the
// request by the outcome: a definitive answer settles the order; a payment
// not sent is queued for the background (or, under the reject policy,
// undone and refused); a payment sent without an answer is handed to the
// reconciler. prev is the order before this request's attempt started, for
// the reject policy to restore; nil for a new order. fresh says that no
// earlier run of the request can have sent this attempt: only then may the
// reject policy undo it, since a resumed request's earlier run may have
// charged before it died.
func (s *Service) pay(ctx context.Context, c *idempotency.Call, o *order.Order,
	prev *order.Order, fresh bool) (*idempotency.Response, error) {
	if o.Status.Final() {
		return s.finish(ctx, c, o, func(*sql.Tx) (int, error) { return statusFor(o), nil })
	}
	if o.Status != order.Processing || o.Payment.Status != order.PaymentInFlight {
		err := c.Step(ctx, PointPaymentSent, o.ID, func(tx *sql.Tx) error {
			return s.markSent(ctx, tx, o)
		})
		if err != nil {
			return nil, err
		}
		s.committed(o, PointPaymentSent)
	}

	r := s.attempt(ctx, o)
	s.afterStep(PointAnswered)
	switch {
	case r.kind == succeeded || r.kind == declined:
		return s.finish(ctx, c, o, func(tx *sql.Tx) (int, error) { return s.settle(ctx, tx, o, r) })
	case r.kind == notSent && s.opts.Policy == PolicyReject && fresh:
		return s.forget(ctx, c, o, prev, r)
	case r.kind == notSent:
		return s.finish(ctx, c, o, func(tx *sql.Tx) (int, error) {
			if err := s.deferPayment(ctx, tx, o); err != nil {
				return 0, err
			}
			return 202, s.opts.Jobs.EnqueueCharge(ctx, tx, o, s.now().Add(r.retryAfter))
		})
	}
	s.log.WarnContext(ctx, "payment outcome unknown; reconciling", "order_id", o.ID,
		"attempt", o.Payment.Attempt, "error", r.err)
	return s.finish(ctx, c, o, func(tx *sql.Tx) (int, error) {
		if err := s.markUnknown(ctx, tx, o); err != nil {
			return 0, err
		}
		return 202, s.opts.Jobs.EnqueueReconcile(ctx, tx, o)
	})
}

// finish commits the request's last writes and its response together.
func (s *Service) finish(ctx context.Context, c *idempotency.Call, o *order.Order,
	write func(*sql.Tx) (int, error)) (*idempotency.Response, error) {
	resp, err := c.Finish(ctx, func(tx *sql.Tx) (*idempotency.Response, error) {
		status, err := write(tx)
		if err != nil {
			return nil, err
		}
		return orderResponse(o, status), nil
	})
	if err != nil {
		return nil, err
	}
	s.committed(o, PointFinished)
	return resp, nil
}

// forget undoes what the request wrote (the new order, or the new attempt)
// and releases its key, then refuses with 503: under the reject policy a
// payment that could not be sent leaves nothing behind.
func (s *Service) forget(ctx context.Context, c *idempotency.Call, o, prev *order.Order,
	r result) (*idempotency.Response, error) {
	err := c.Forget(ctx, func(tx *sql.Tx) error {
		if prev == nil {
			return store.DeleteOrder(ctx, tx, o.TenantID, o.ID)
		}
		restored := *prev
		restored.Version, restored.UpdatedAt = o.Version+1, s.now()
		return store.UpdateOrder(ctx, tx, &restored)
	})
	if err != nil {
		return nil, err
	}
	s.opts.Watchers.Notify(o.ID)
	return unavailable(r.retryAfter), nil
}

// refuseWhileOpen answers 503 before anything is written when the reject
// policy is in force and the provider's breaker is open.
func (s *Service) refuseWhileOpen() *idempotency.Response {
	if s.opts.Policy != PolicyReject {
		return nil
	}
	snap := s.opts.Breaker.Snapshot()
	if snap.State != breaker.StateOpen {
		return nil
	}
	return unavailable(max(snap.NextProbeIn, time.Second))
}

func unavailable(wait time.Duration) *idempotency.Response {
	p := problem.New(problem.PaymentsUnavailable, "We could not reach the payment provider. "+
		"Nothing was written and you have not been charged; retry after Retry-After seconds.")
	p.RetryAfter = wait
	return problemResponse(p)
}

func payable(o *order.Order) bool {
	return o.Status == order.Failed && o.Payment.Status == order.PaymentDeclined
}

func notPayable(o *order.Order) *idempotency.Response {
	return problemResponse(problem.New(problem.OrderNotPayable, "Order "+o.ID+" is "+
		string(o.Status)+" with payment "+string(o.Payment.Status)+
		"; only an order whose payment was declined can be paid again."))
}
