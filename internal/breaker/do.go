package breaker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// errCutOff is the cause of a call context ended by Options.Timeout, which
// tells the breaker's own timeout apart from a deadline of the caller.
var errCutOff = errors.New("breaker timeout")

// Do runs fn if the breaker admits it, and counts its outcome.
//
// Do returns an error matching [ErrOpen] when fn was not called, and one
// matching [ErrTimeout] when fn was called and cut off at [Options.Timeout];
// never both. Otherwise it returns what fn returned, unchanged. If fn returns
// nil after the timeout fired, Do returns nil: the call did happen, late, and
// was counted as a failure.
//
// fn receives a context that ends when ctx ends or at the timeout. It should
// honour it: Do waits for fn to return. The breaker itself does not wait; it
// counts the failure when the timeout fires, so a probe that hangs cannot
// leave it half-open.
//
// If fn returns an error after ctx ended, the caller abandoned the call,
// which says nothing about the dependency: Do returns ctx's error wrapped and
// counts nothing. The exception is a half-open probe: failsafe-go frees a
// probe slot only by counting an outcome, so an abandoned probe is counted as
// a success (the dependency did not fail it) rather than leaking the slot,
// which would leave the breaker half-open for good. If ctx has already ended,
// fn is not called and the breaker is not consulted.
//
// Do drives failsafe-go's breaker through permits and records, not through
// its executor with a timeout policy inside, because the executor records
// only once fn returns (a hung probe would hold its slot until then) and
// records every call as a success or a failure (it has no neutral outcome for
// a caller cancellation).
func (b *Breaker) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("breaker %s: %w", b.name, err)
	}
	if b.forced.Load() || !b.cb.TryAcquirePermit() {
		return b.errOpen
	}

	c := b.start(ctx)
	defer c.end()
	err := fn(c.ctx)
	c.returned = true
	return c.finish(err)
}

type outcome int

const (
	outcomeSuccess outcome = iota
	outcomeFailure
	outcomeNeutral
)

// call is one admitted execution of fn.
type call struct {
	b      *Breaker
	parent context.Context
	ctx    context.Context
	cancel context.CancelFunc

	// probe records whether the permit came from the half-open state, whose
	// slots must be given back.
	probe bool

	// stopWatch stops the timer that counts a timeout as it happens.
	stopWatch func() bool

	// returned is set once fn has returned normally.
	returned bool

	// settled makes sure one outcome is counted per call, whether by the
	// timeout watcher or by the return of fn, whichever comes first.
	settled atomic.Bool
}

func (b *Breaker) start(parent context.Context) *call {
	c := &call{b: b, parent: parent, probe: b.cb.IsHalfOpen()}
	if b.timeout <= 0 {
		// Without a timeout the caller's context is all fn needs.
		c.ctx, c.cancel = parent, func() {}
		c.stopWatch = func() bool { return true }
		return c
	}
	c.ctx, c.cancel = context.WithTimeoutCause(parent, b.timeout, errCutOff)
	c.stopWatch = context.AfterFunc(c.ctx, c.watch)
	return c
}

// watch runs when the call context ends. On the breaker's own timeout it
// counts the failure right away instead of waiting for fn to give up.
func (c *call) watch() {
	if c.timedOut() {
		c.settle(outcomeFailure)
	}
}

func (c *call) timedOut() bool {
	return errors.Is(context.Cause(c.ctx), errCutOff)
}

// end releases the call context. If fn panicked or called runtime.Goexit,
// it counts a failure, so that a probe's slot is given back, and lets the
// panic go on with its stack intact.
func (c *call) end() {
	if !c.returned {
		c.stopWatch()
		c.settle(outcomeFailure)
	}
	c.cancel()
}

// finish counts the outcome of a returned call and builds Do's answer. It
// must run before c.end, which would hide the cause of the context's end.
func (c *call) finish(err error) error {
	c.stopWatch()
	switch {
	case c.timedOut():
		c.settle(outcomeFailure)
		if err == nil {
			return nil
		}
		// fn's error is kept as text only, so that Do's answer cannot match
		// ErrOpen through it.
		return fmt.Errorf("breaker %s: %w after %s: %v", c.b.name, ErrTimeout, c.b.timeout, err)
	case err == nil:
		c.settle(outcomeSuccess)
		return nil
	case c.parent.Err() != nil:
		c.settle(outcomeNeutral)
		return fmt.Errorf("breaker %s: call abandoned: %w", c.b.name, context.Cause(c.parent))
	case c.b.isFailure(err):
		c.settle(outcomeFailure)
		return err
	default:
		c.settle(outcomeSuccess)
		return err
	}
}

func (c *call) settle(o outcome) {
	if !c.settled.CompareAndSwap(false, true) {
		return
	}
	switch o {
	case outcomeSuccess:
		c.b.cb.RecordSuccess()
	case outcomeFailure:
		c.b.cb.RecordFailure()
	case outcomeNeutral:
		// A closed breaker holds no permits, so counting nothing is neutral.
		// A probe holds a slot that only a record gives back; the check of
		// the current state skips probes whose half-open episode has ended.
		if c.probe && c.b.cb.IsHalfOpen() {
			c.b.cb.RecordSuccess()
		}
	}
}
