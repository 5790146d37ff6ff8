package breaker

import (
	"log/slog"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
)

// Log keys, snake_case like the rest of writepath's logs.
const (
	logKeyComponent = "component"
	logKeyBreaker   = "breaker"
	logKeyFrom      = "from"
	logKeyTo        = "to"
	logKeyEvicted   = "evicted"
)

// Snapshot is the state of a breaker at one moment, as shown by the status
// endpoint and the dashboard.
type Snapshot struct {
	// Name is the breaker's name.
	Name string `json:"name"`
	// State is closed, open or half_open. An open breaker whose delay has
	// passed reports half_open: its next call is admitted as a probe.
	State State `json:"state"`
	// NextProbeIn is the time left until a probe is admitted, in nanoseconds
	// in JSON as time.Duration encodes. It is above zero only while the
	// breaker is open, and zero while it is forced open: no probe is
	// scheduled until an operator resets it.
	NextProbeIn time.Duration `json:"next_probe_in_ns"`
	// Forced is true while an operator holds the breaker open.
	Forced bool `json:"forced"`
}

// Snapshot returns the breaker's current state.
//
// failsafe-go moves an open breaker to half-open lazily, when a call arrives
// after the delay, so its state alone would say "open" for as long as no one
// calls. Snapshot combines it with the remaining delay to report what a call
// would meet.
func (b *Breaker) Snapshot() Snapshot {
	s := Snapshot{Name: b.name, Forced: b.forced.Load()}
	if s.Forced {
		s.State = StateOpen
		return s
	}

	s.State = stateOf(b.cb.State())
	if s.State == StateOpen {
		s.NextProbeIn = b.cb.RemainingDelay()
		if s.NextProbeIn <= 0 {
			s.State, s.NextProbeIn = StateHalfOpen, 0
		}
	}
	return s
}

// ForceOpen is the operator's kill switch: every call answers ErrOpen, with
// no probes, until Reset. Calls already running finish normally.
func (b *Breaker) ForceOpen() {
	if b.forced.Swap(true) {
		return
	}
	b.log.Warn("breaker forced open")
	b.cb.Open()
}

// Reset closes the breaker, forgets the calls counted so far and lifts
// ForceOpen.
func (b *Breaker) Reset() {
	// Reset is not part of failsafe-go's CircuitBreaker interface in v0.9.8,
	// though its breaker has it; Close keeps the counts of a closed breaker.
	if r, ok := b.cb.(interface{ Reset() }); ok {
		r.Reset()
	} else {
		b.cb.Close()
	}

	// Lifted last, so that no call slips in while the breaker is still open.
	b.forced.Store(false)
	b.log.Info("breaker reset")
}

// stateChanged is failsafe-go's listener. failsafe-go calls it with its lock
// released, so it may read the breaker.
func (b *Breaker) stateChanged(e circuitbreaker.StateChangedEvent) {
	from, to := stateOf(e.OldState), stateOf(e.NewState)
	b.log.Info("breaker state changed",
		slog.String(logKeyFrom, string(from)), slog.String(logKeyTo, string(to)))
	if b.onChange != nil {
		b.onChange(b.name, from, to)
	}
}

func stateOf(s circuitbreaker.State) State {
	switch s {
	case circuitbreaker.OpenState:
		return StateOpen
	case circuitbreaker.HalfOpenState:
		return StateHalfOpen
	default:
		return StateClosed
	}
}
