package breaker

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
)

// State is the state of a breaker as reported by [Breaker.Snapshot].
type State string

// The states of a breaker.
const (
	// StateClosed lets every call through.
	StateClosed State = "closed"
	// StateOpen refuses every call with ErrOpen.
	StateOpen State = "open"
	// StateHalfOpen admits a limited number of probes; a breaker whose open
	// delay has passed reports half_open even before the next probe arrives.
	StateHalfOpen State = "half_open"
)

// ErrOpen is returned by [Breaker.Do] when the call was not made because the
// breaker is open, forced open, or half-open with all probes taken. The
// dependency did not see the call: it is truthfully "not sent".
var ErrOpen = errors.New("breaker open")

// ErrTimeout is returned by [Breaker.Do] when the call was made and cut off
// at [Options.Timeout]. The dependency may have acted on it.
var ErrTimeout = errors.New("breaker timeout")

// Defaults applied by [New] to zero fields of [Options].
const (
	DefaultFailureRate      = 0.5
	DefaultMinRequests      = 10
	DefaultWindow           = 30 * time.Second
	DefaultSuccessThreshold = 2
	DefaultOpenFor          = 10 * time.Second
	DefaultJitter           = 0.2
	DefaultMaxKeys          = 1000
)

// Options configures a [Breaker]. The zero value is usable: every zero field
// takes the default stated on it.
type Options struct {
	// Name identifies the breaker in logs, metrics and snapshots, for example
	// "provider" or "webhook:example.com".
	Name string

	// FailureRate is the share of failed calls in Window, in (0, 1], at or
	// above which the breaker opens. Zero means 0.5.
	FailureRate float64

	// MinRequests is the number of calls Window must hold before FailureRate
	// is considered, so that one failure out of one call does not open it.
	// Zero means 10.
	MinRequests uint

	// Window is the sliding period over which calls are counted, kept in ten
	// slices that expire one by one. Zero means 30s.
	Window time.Duration

	// SuccessThreshold is the number of successful probes that close a
	// half-open breaker. It is also the number of probes admitted at once;
	// one failed probe opens the breaker again. Zero means 2.
	SuccessThreshold uint

	// OpenFor is how long the breaker stays open before it admits a probe.
	// Zero means 10s.
	OpenFor time.Duration

	// Jitter is the fraction of OpenFor added or removed at random each time
	// the breaker opens, so that instances which opened together do not probe
	// together. Zero means 0.2; negative means no jitter.
	Jitter float64

	// Timeout bounds each call: the context given to the call is cancelled
	// at Timeout, the call counts as a failure at that moment (even if it
	// ignores its context and returns later), and Do returns ErrTimeout.
	// Keep it below the callers' own deadlines: a caller deadline that fires
	// first is a caller cancellation, which is not counted. Zero means none.
	Timeout time.Duration

	// IsFailure reports whether an error returned by a call is a failure of
	// the dependency. Errors for which it is false count as successes. Nil
	// means every non-nil error is a failure. Callers pass a func that
	// excludes declines and definitive 4xx answers.
	IsFailure func(error) bool

	// OnStateChange, if not nil, is called after each state change, outside
	// the breaker's lock, for example to update a metric. It must not block.
	OnStateChange func(name string, from, to State)

	// Logger receives state changes (Info) and operator actions. Nil means
	// no logging.
	Logger *slog.Logger

	// MaxKeys bounds the number of breakers a [Set] holds. It is ignored by
	// [New]. Zero means 1000.
	MaxKeys int
}

// Breaker is a circuit breaker guarding one dependency. Its methods are safe
// for concurrent use.
type Breaker struct {
	name      string
	cb        circuitbreaker.CircuitBreaker[any]
	timeout   time.Duration
	isFailure func(error) bool
	onChange  func(name string, from, to State)
	log       *slog.Logger

	// forced is set by ForceOpen and cleared by Reset. It is checked before
	// the failsafe breaker, whose own open state would admit a probe after
	// OpenFor, which a kill switch must not do.
	forced atomic.Bool

	// errOpen is ErrOpen wrapped with the name, built once so that refusing a
	// call does not allocate.
	errOpen error
}

// New returns a closed breaker configured by o. It panics if o holds a value
// out of range (a failure rate outside (0, 1], a negative duration), which is
// a programming error.
func New(o Options) *Breaker {
	o = withDefaults(o)
	mustValidate(o)

	b := &Breaker{
		name:      o.Name,
		timeout:   o.Timeout,
		isFailure: o.IsFailure,
		onChange:  o.OnStateChange,
		log:       componentLogger(o.Logger, o.Name),
		errOpen:   fmt.Errorf("breaker %s: %w", o.Name, ErrOpen),
	}
	b.cb = b.build(o)
	return b
}

// build configures the failsafe breaker. Only the call counting and the state
// machine are delegated to it; Do drives it through permits and records
// rather than failsafe's executor, see Do for why.
func (b *Breaker) build(o Options) circuitbreaker.CircuitBreaker[any] {
	builder := circuitbreaker.NewBuilder[any]().
		WithFailureRateThreshold(o.FailureRate, o.MinRequests, o.Window).
		WithSuccessThreshold(o.SuccessThreshold).
		WithDelay(o.OpenFor).
		OnStateChanged(b.stateChanged)
	if o.Jitter > 0 {
		builder = builder.WithJitterFactor(o.Jitter)
	}
	return builder.Build()
}

func withDefaults(o Options) Options {
	if o.FailureRate == 0 {
		o.FailureRate = DefaultFailureRate
	}
	if o.MinRequests == 0 {
		o.MinRequests = DefaultMinRequests
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.SuccessThreshold == 0 {
		o.SuccessThreshold = DefaultSuccessThreshold
	}
	if o.OpenFor == 0 {
		o.OpenFor = DefaultOpenFor
	}
	if o.Jitter == 0 {
		o.Jitter = DefaultJitter
	}
	if o.IsFailure == nil {
		o.IsFailure = func(err error) bool { return err != nil }
	}
	if o.MaxKeys == 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	return o
}

func mustValidate(o Options) {
	switch {
	case o.FailureRate < 0 || o.FailureRate > 1:
		panic(fmt.Sprintf("breaker %s: failure rate %v outside (0, 1]", o.Name, o.FailureRate))
	case o.Window < 0 || o.OpenFor < 0 || o.Timeout < 0:
		panic(fmt.Sprintf("breaker %s: negative duration", o.Name))
	case o.Jitter >= 1:
		panic(fmt.Sprintf("breaker %s: jitter %v not below 1", o.Name, o.Jitter))
	case o.MaxKeys < 0:
		panic(fmt.Sprintf("breaker %s: negative max keys", o.Name))
	}
}

func componentLogger(l *slog.Logger, name string) *slog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return l.With(slog.String(logKeyComponent, "breaker"), slog.String(logKeyBreaker, name))
}

// Name returns the name the breaker was created with.
func (b *Breaker) Name() string { return b.name }
