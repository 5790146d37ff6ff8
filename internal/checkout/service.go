package checkout

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/writepath/writepath/idempotency"
	"github.com/writepath/writepath/internal/metrics"
	"github.com/writepath/writepath/internal/order"
	"github.com/writepath/writepath/internal/problem"
	"github.com/writepath/writepath/internal/provider"
	"github.com/writepath/writepath/internal/store"
)

// Recovery points of an order request; see the package documentation.
const (
	PointOrderCreated   = "order_created"
	PointPaymentSent    = "payment_sent"
	PointPaymentDefer   = "payment_deferred"
	PointPaymentUnknown = "payment_unknown"
)

// Provider is the payment provider, as the checkout uses it.
type Provider interface {
	CreatePayment(ctx context.Context, p provider.PaymentParams) (provider.Payment, error)
}

// Options configure a Service.
type Options struct {
	// DB is the database. Required.
	DB *store.DB

	// Provider charges payments. Required.
	Provider Provider

	// ProviderTimeout bounds one call to the provider. Zero means 10 seconds.
	ProviderTimeout time.Duration

	// Metrics receives order and provider metrics. Nil means none.
	Metrics *metrics.Metrics

	// Logger receives state changes and failures. Nil means slog.Default().
	Logger *slog.Logger

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time

	// Watchers, when set, are told of every committed change of an order.
	Watchers *Watchers

	// Effects, when set, enqueues the side effects of a completed order in
	// the transaction that completes it. Nil means none.
	Effects Effects

	// AfterStep, when set, is called after each step of an order request
	// commits, with the step's recovery point, and after the provider
	// answered, with "provider_answered". Crash tests use it to kill the
	// process between steps.
	AfterStep func(point string)
}

// Effects enqueues the side effects of an order, inside the caller's
// transaction, and returns them as the order shows them.
type Effects interface {
	EnqueueOrderEffects(ctx context.Context, tx *sql.Tx, o *order.Order) ([]order.SideEffect, error)
}

// Service runs the checkout's write path.
type Service struct {
	opts Options
	log  *slog.Logger
}

// New returns a Service.
func New(opts Options) (*Service, error) {
	if opts.DB == nil || opts.Provider == nil {
		return nil, errors.New("checkout: Options.DB and Options.Provider are required")
	}
	if opts.ProviderTimeout == 0 {
		opts.ProviderTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{opts: opts, log: opts.Logger.With(slog.String("component", "checkout"))}, nil
}

// now is the time stamped on orders, to the millisecond: the precision the
// database keeps, so that a stored response and a later read agree.
func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// ProviderKey is the provider idempotency key of one payment attempt of an
// order. It depends on nothing else, so that a retry from any instance after
// any crash sends the same key and cannot charge twice.
func ProviderKey(tenantID, orderID string, attempt int) string {
	sum := sha256.Sum256([]byte(tenantID + "\x00" + orderID + "\x00" + strconv.Itoa(attempt)))
	return "wp_" + hex.EncodeToString(sum[:20])
}

// Order returns a tenant's order, or store.ErrNotFound.
func (s *Service) Order(ctx context.Context, tenantID, id string) (*order.Order, error) {
	return store.GetOrder(ctx, s.opts.DB.SQL, tenantID, id)
}

// CreateOrder is the idempotent operation behind POST /v1/orders: it records
// the order, charges it and answers with the order. A resumed request
// continues from its recovery point.
func (s *Service) CreateOrder(ctx context.Context, c *idempotency.Call) (*idempotency.Response, error) {
	req, p := DecodeOrderRequest(c.Body)
	if p != nil {
		return problemResponse(p), nil
	}

	o, err := s.recordOrder(ctx, c, req)
	if err != nil {
		return nil, err
	}
	return s.pay(ctx, c, o)
}

// CurrentOrder answers a retry whose stored response has expired: the order
// the key created, as it is now.
func (s *Service) CurrentOrder(ctx context.Context, c *idempotency.Call) (*idempotency.Response, error) {
	o, err := s.Order(ctx, c.Scope, c.ResourceID())
	if err != nil {
		return nil, err
	}
	return orderResponse(o, statusFor(o)), nil
}

// recordOrder stores a new order and binds the key to it, or, for a resumed
// request, reads back the order it stored before.
func (s *Service) recordOrder(ctx context.Context, c *idempotency.Call, req *OrderRequest) (*order.Order, error) {
	if c.RecoveryPoint() != "" {
		return s.Order(ctx, c.Scope, c.ResourceID())
	}

	now := s.now()
	o := &order.Order{
		ID: store.NewID("ord"), TenantID: c.Scope, Status: order.Pending,
		Amount: req.Amount(), Currency: req.Currency, CustomerEmail: req.Customer.Email,
		Items: req.Items,
		Payment: order.Payment{Attempt: 1, Method: req.PaymentMethod,
			Status: order.PaymentNotStarted},
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
	s.committed(o, "", PointOrderCreated)
	return o, nil
}

// pay sends the order's current payment attempt to the provider and settles
// the order by the answer. Only a definitive answer finishes the request;
// "not sent" and "no answer" leave it unfinished, to be resumed with the same
// provider key.
func (s *Service) pay(ctx context.Context, c *idempotency.Call, o *order.Order) (*idempotency.Response, error) {
	if err := s.advance(ctx, c, o, PointPaymentSent, order.Processing, order.PaymentInFlight); err != nil {
		return nil, err
	}

	payment, err := s.charge(ctx, o)
	s.afterStep("provider_answered")

	var decline *provider.DeclineError
	switch {
	case err == nil:
		ref := payment.ID
		o.Payment.ProviderReference = &ref
		return s.finish(ctx, c, o, order.Completed, order.PaymentSucceeded, http.StatusCreated)
	case errors.As(err, &decline):
		o.Failure = &order.Failure{Code: order.FailureCardDeclined, DeclineCode: decline.Code,
			Message: decline.Message}
		return s.finish(ctx, c, o, order.Failed, order.PaymentDeclined, http.StatusPaymentRequired)
	case errors.Is(err, provider.ErrInvalidRequest):
		o.Failure = &order.Failure{Code: order.FailureInvalidPaymentMethod,
			Message: "The payment provider refused this payment method."}
		return s.finish(ctx, c, o, order.Failed, order.PaymentDeclined, http.StatusPaymentRequired)
	case errors.Is(err, provider.ErrNotSent):
		return s.unfinished(ctx, c, o, PointPaymentDefer, order.Queued, order.PaymentDeferred, err)
	default: // unknown outcome, or an answer we cannot read: it may have charged
		return s.unfinished(ctx, c, o, PointPaymentUnknown, order.Processing, order.PaymentUnknown, err)
	}
}

// charge makes one provider call for the order's current attempt.
func (s *Service) charge(ctx context.Context, o *order.Order) (provider.Payment, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ProviderTimeout)
	defer cancel()

	start := time.Now()
	p, err := s.opts.Provider.CreatePayment(ctx, provider.PaymentParams{
		IdempotencyKey: ProviderKey(o.TenantID, o.ID, o.Payment.Attempt),
		Amount:         o.Amount, Currency: o.Currency,
		PaymentMethod: o.Payment.Method, OrderID: o.ID,
	})
	s.opts.Metrics.ProviderRequest("create_payment", providerOutcome(err), time.Since(start))
	return p, err
}

// advance commits a step that moves the order, unless the order is already
// there (a resumed request repeating the step).
func (s *Service) advance(ctx context.Context, c *idempotency.Call, o *order.Order, point string,
	to order.Status, payment order.PaymentStatus) error {
	from := o.Status
	if from == to && o.Payment.Status == payment {
		return nil
	}
	if err := o.Move(to, payment, s.now()); err != nil {
		return err
	}
	err := c.Step(ctx, point, o.ID, func(tx *sql.Tx) error { return store.UpdateOrder(ctx, tx, o) })
	if err != nil {
		return err
	}
	s.committed(o, from, point)
	return nil
}

// finish commits the order's final state and the response together.
func (s *Service) finish(ctx context.Context, c *idempotency.Call, o *order.Order, to order.Status,
	payment order.PaymentStatus, status int) (*idempotency.Response, error) {
	from := o.Status
	if err := o.Move(to, payment, s.now()); err != nil {
		return nil, err
	}
	resp, err := c.Finish(ctx, func(tx *sql.Tx) (*idempotency.Response, error) {
		if err := store.UpdateOrder(ctx, tx, o); err != nil {
			return nil, err
		}
		if to == order.Completed && s.opts.Effects != nil {
			effects, err := s.opts.Effects.EnqueueOrderEffects(ctx, tx, o)
			if err != nil {
				return nil, fmt.Errorf("enqueue side effects: %w", err)
			}
			o.SideEffects = effects
		}
		return orderResponse(o, status), nil
	})
	if err != nil {
		return nil, err
	}
	s.committed(o, from, "finished")
	return resp, nil
}

// unfinished records that the payment is not settled yet and answers with
// the order as it stands; the request will be resumed.
func (s *Service) unfinished(ctx context.Context, c *idempotency.Call, o *order.Order, point string,
	to order.Status, payment order.PaymentStatus, cause error) (*idempotency.Response, error) {
	s.log.WarnContext(ctx, "payment not settled", slog.String("order_id", o.ID),
		slog.String("payment_status", string(payment)), slog.Any("error", cause))
	if err := s.advance(ctx, c, o, point, to, payment); err != nil {
		return nil, err
	}

	resp := orderResponse(o, http.StatusAccepted)
	resp.Unfinished = true
	var notSent *provider.NotSentError
	if errors.As(cause, &notSent) && notSent.RetryAfter > 0 {
		resp.ResumeAfter = notSent.RetryAfter
	}
	return resp, nil
}

func (s *Service) committed(o *order.Order, from order.Status, point string) {
	if from != "" && from != o.Status {
		s.opts.Metrics.OrderTransition(string(from), string(o.Status))
	}
	s.opts.Watchers.Notify(o.ID)
	s.afterStep(point)
}

func (s *Service) afterStep(point string) {
	if s.opts.AfterStep != nil {
		s.opts.AfterStep(point)
	}
}

// statusFor is the HTTP status that answers a request about an order in its
// current state.
func statusFor(o *order.Order) int {
	switch o.Status {
	case order.Completed:
		return http.StatusCreated
	case order.Failed:
		return http.StatusPaymentRequired
	}
	return http.StatusAccepted
}

func orderResponse(o *order.Order, status int) *idempotency.Response {
	body, _ := json.Marshal(o) // an Order always encodes
	return &idempotency.Response{
		Status: status,
		Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/v1/orders/" + o.ID}},
		Body:   append(body, '\n'),
	}
}

func problemResponse(p *problem.Problem) *idempotency.Response {
	body, _ := json.Marshal(p)
	return &idempotency.Response{
		Status: p.Status,
		Header: http.Header{"Content-Type": {problem.ContentType}},
		Body:   append(body, '\n'),
	}
}

func providerOutcome(err error) string {
	var decline *provider.DeclineError
	switch {
	case err == nil:
		return metrics.ProviderSucceeded
	case errors.As(err, &decline):
		return metrics.ProviderDeclined
	case errors.Is(err, provider.ErrNotSent):
		return metrics.ProviderNotSent
	case errors.Is(err, provider.ErrUnknownOutcome):
		return metrics.ProviderUnknown
	}
	return metrics.ProviderError
}
