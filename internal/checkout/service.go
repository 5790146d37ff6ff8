package checkout

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/writepath/writepath/idempotency"
	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/metrics"
	"github.com/writepath/writepath/internal/order"
	"github.com/writepath/writepath/internal/problem"
	"github.com/writepath/writepath/internal/provider"
	"github.com/writepath/writepath/internal/store"
)

// Recovery points of an order request; see the package documentation.
const (
	PointOrderCreated  = "order_created"
	PointAttemptStart  = "attempt_started"
	PointPaymentSent   = "payment_sent"
	PointAnswered      = "provider_answered" // not a recovery point: a crash-test hook
	PointFinished      = "finished"          // not a recovery point: a crash-test hook
	defaultRetryWindow = 15 * time.Minute
)

// Policies for orders whose payment cannot be sent.
const (
	// PolicyQueue accepts the order as queued and charges it in the
	// background once the provider can be reached.
	PolicyQueue = "queue"
	// PolicyReject answers 503 payments-unavailable and writes nothing.
	PolicyReject = "reject"
)

// Provider is the payment provider, as the checkout uses it.
type Provider interface {
	CreatePayment(ctx context.Context, p provider.PaymentParams) (provider.Payment, error)
	FindPayments(ctx context.Context, orderID string) ([]provider.Payment, error)
}

// Effects enqueues the side effects of an order, inside the caller's
// transaction, and returns them as the order shows them.
type Effects interface {
	EnqueueOrderEffects(ctx context.Context, tx *sql.Tx, o *order.Order) ([]order.SideEffect, error)
}

// PaymentJobs enqueues background payment work inside the caller's
// transaction: charging a queued order once the provider can be reached,
// and reconciling a payment whose outcome is unknown.
type PaymentJobs interface {
	EnqueueCharge(ctx context.Context, tx *sql.Tx, o *order.Order, at time.Time) error
	EnqueueReconcile(ctx context.Context, tx *sql.Tx, o *order.Order) error
}

// Options configure a Service.
type Options struct {
	// DB is the database. Required.
	DB *store.DB

	// Provider charges payments. Required.
	Provider Provider

	// Breaker guards the provider. Its timeout bounds every provider call
	// and its IsFailure should be ProviderFailure. Required.
	Breaker *breaker.Breaker

	// Policy is PolicyQueue or PolicyReject. Empty means PolicyQueue.
	Policy string

	// RetryWindow is how long a queued payment is retried before the order
	// fails with payment_unavailable. Zero means 15 minutes.
	RetryWindow time.Duration

	// Effects enqueues the side effects of a completed order in the
	// transaction that completes it. Nil means none.
	Effects Effects

	// Jobs enqueues background payment work. Required with PolicyQueue.
	Jobs PaymentJobs

	// Metrics receives order and provider metrics. Nil means none.
	Metrics *metrics.Metrics

	// Logger receives state changes and failures. Nil means slog.Default().
	Logger *slog.Logger

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time

	// Watchers, when set, are told of every committed change of an order.
	Watchers *Watchers

	// AfterStep, when set, is called after each step of an order request
	// commits, with the step's recovery point, after the provider answered
	// (PointAnswered) and after the request finished (PointFinished). Crash
	// tests use it to kill the process between steps.
	AfterStep func(point string)
}

// Service runs the checkout's write path.
type Service struct {
	opts Options
	log  *slog.Logger
}

// New returns a Service.
func New(opts Options) (*Service, error) {
	if opts.DB == nil || opts.Provider == nil || opts.Breaker == nil {
		return nil, errors.New("checkout: Options.DB, Provider and Breaker are required")
	}
	switch opts.Policy {
	case "":
		opts.Policy = PolicyQueue
	case PolicyQueue, PolicyReject:
	default:
		return nil, errors.New("checkout: Policy must be queue or reject")
	}
	if opts.Policy == PolicyQueue && opts.Jobs == nil {
		return nil, errors.New("checkout: Options.Jobs is required with the queue policy")
	}
	if opts.RetryWindow == 0 {
		opts.RetryWindow = defaultRetryWindow
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{opts: opts, log: opts.Logger.With(slog.String("component", "checkout"))}, nil
}

// ProviderKey is the provider idempotency key of one payment attempt of an
// order. It depends on nothing else, so that a retry from any instance after
// any crash sends the same key and cannot charge twice.
func ProviderKey(tenantID, orderID string, attempt int) string {
	sum := sha256.Sum256([]byte(tenantID + "\x00" + orderID + "\x00" + strconv.Itoa(attempt)))
	return "wp_" + hex.EncodeToString(sum[:20])
}

// ProviderFailure reports whether a provider error counts against the
// provider's breaker: not being reached and not answering do; declines and
// other definitive refusals are answers, and do not.
func ProviderFailure(err error) bool {
	var decline *provider.DeclineError
	return err != nil && !errors.As(err, &decline) &&
		!errors.Is(err, provider.ErrInvalidRequest) && !errors.Is(err, provider.ErrNotFound)
}

// Order returns a tenant's order, or store.ErrNotFound.
func (s *Service) Order(ctx context.Context, tenantID, id string) (*order.Order, error) {
	return s.opts.DB.ReadOrder(ctx, tenantID, id)
}

// now is the time stamped on orders, to the millisecond: the precision the
// database keeps, so that a stored response and a later read agree.
func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// move changes the order in memory and counts the transition.
func (s *Service) move(o *order.Order, to order.Status, p order.PaymentStatus) error {
	from := o.Status
	if err := o.Move(to, p, s.now()); err != nil {
		return err
	}
	if from != to {
		s.opts.Metrics.OrderTransition(string(from), string(to))
	}
	return nil
}

// committed tells watchers that the order changed and passes the point to
// the crash-test hook.
func (s *Service) committed(o *order.Order, point string) {
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
	h := http.Header{"Content-Type": {problem.ContentType}}
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(max(1, int((p.RetryAfter+time.Second-1)/time.Second))))
	}
	return &idempotency.Response{Status: p.Status, Header: h, Body: append(body, '\n')}
}
