package breaker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

var (
	errBoom    = errors.New("provider 503")
	errDecline = errors.New("card declined")
)

// testOptions opens after 4 calls at a failure rate of one half, without
// jitter so that delays are exact.
func testOptions() Options {
	return Options{
		Name:             "provider",
		FailureRate:      0.5,
		MinRequests:      4,
		Window:           10 * time.Second,
		SuccessThreshold: 2,
		OpenFor:          10 * time.Second,
		Jitter:           -1,
	}
}

func fail(context.Context) error    { return errBoom }
func succeed(context.Context) error { return nil }

// trip makes b open by failing MinRequests calls.
func trip(t *testing.T, b *Breaker) {
	t.Helper()
	for range 4 {
		if err := b.Do(context.Background(), fail); !errors.Is(err, errBoom) {
			t.Fatalf("Do while closed = %v, want %v", err, errBoom)
		}
	}
	if got, want := b.Snapshot().State, StateOpen; got != want {
		t.Fatalf("state after failures = %q, want %q", got, want)
	}
}

// mustRefuse checks that b refuses a call without running it.
func mustRefuse(t *testing.T, b *Breaker) {
	t.Helper()
	called := false
	err := b.Do(context.Background(), func(context.Context) error { called = true; return nil })
	if !errors.Is(err, ErrOpen) {
		t.Fatalf("Do = %v, want ErrOpen", err)
	}
	if errors.Is(err, ErrTimeout) {
		t.Fatalf("Do = %v matches both ErrOpen and ErrTimeout", err)
	}
	if called {
		t.Fatalf("fn was called although Do returned ErrOpen")
	}
}

func TestNewBreakerIsClosed(t *testing.T) {
	got := New(Options{Name: "provider"}).Snapshot()
	want := Snapshot{Name: "provider", State: StateClosed}
	if got != want {
		t.Fatalf("Snapshot() = %+v, want %+v", got, want)
	}
}

func TestOpensAtFailureRateOnceMinRequestsReached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(testOptions())
		for range 3 {
			_ = b.Do(t.Context(), fail)
		}
		if got, want := b.Snapshot().State, StateClosed; got != want {
			t.Fatalf("state after 3 of 4 minimum calls = %q, want %q", got, want)
		}

		_ = b.Do(t.Context(), fail)
		if got, want := b.Snapshot().State, StateOpen; got != want {
			t.Fatalf("state after 4 failures = %q, want %q", got, want)
		}
		mustRefuse(t, b)
	})
}

func TestStaysClosedBelowFailureRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(testOptions())
		calls := []func(context.Context) error{succeed, succeed, fail, succeed, succeed, fail}
		for _, fn := range calls {
			_ = b.Do(t.Context(), fn)
		}
		if got, want := b.Snapshot().State, StateClosed; got != want {
			t.Fatalf("state at a third failed = %q, want %q", got, want)
		}
	})
}

func TestWindowForgetsOldFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(testOptions())
		for range 3 {
			_ = b.Do(t.Context(), fail)
		}
		time.Sleep(11 * time.Second)

		_ = b.Do(t.Context(), fail)
		if got, want := b.Snapshot().State, StateClosed; got != want {
			t.Fatalf("state after failures a window apart = %q, want %q", got, want)
		}
	})
}

func TestNextProbeInCountsDownToHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(testOptions())
		trip(t, b)
		if got, want := b.Snapshot().NextProbeIn, 10*time.Second; got != want {
			t.Fatalf("NextProbeIn when opened = %v, want %v", got, want)
		}

		time.Sleep(4 * time.Second)
		if got, want := b.Snapshot().NextProbeIn, 6*time.Second; got != want {
			t.Fatalf("NextProbeIn after 4s = %v, want %v", got, want)
		}
		mustRefuse(t, b)

		time.Sleep(6 * time.Second)
		got := b.Snapshot()
		want := Snapshot{Name: "provider", State: StateHalfOpen}
		if got != want {
			t.Fatalf("Snapshot after OpenFor, before any call = %+v, want %+v", got, want)
		}
	})
}

func TestClosesAfterSuccessThresholdProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(testOptions())
		trip(t, b)
		time.Sleep(10 * time.Second)

		if err := b.Do(t.Context(), succeed); err != nil {
			t.Fatalf("first probe = %v, want nil", err)
		}
		if got, want := b.Snapshot().State, StateHalfOpen; got != want {
			t.Fatalf("state after 1 of 2 probes = %q, want %q", got, want)
		}
		if err := b.Do(t.Context(), succeed); err != nil {
			t.Fatalf("second probe = %v, want nil", err)
		}
		if got, want := b.Snapshot().State, StateClosed; got != want {
			t.Fatalf("state after 2 of 2 probes = %q, want %q", got, want)
		}
	})
}

func TestFailedProbeReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(testOptions())
		trip(t, b)
		time.Sleep(10 * time.Second)

		_ = b.Do(t.Context(), succeed)
		if err := b.Do(t.Context(), fail); !errors.Is(err, errBoom) {
			t.Fatalf("failing probe = %v, want %v", err, errBoom)
		}
		got := b.Snapshot()
		want := Snapshot{Name: "provider", State: StateOpen, NextProbeIn: 10 * time.Second}
		if got != want {
			t.Fatalf("Snapshot after a failed probe = %+v, want %+v", got, want)
		}
		mustRefuse(t, b)
	})
}

func TestHalfOpenAdmitsSuccessThresholdProbesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(testOptions())
		trip(t, b)
		time.Sleep(10 * time.Second)

		release, running := holdCalls(t, b, 2, nil)
		synctest.Wait()
		if got, want := running.Load(), int32(2); got != want {
			t.Fatalf("probes running = %d, want %d", got, want)
		}
		mustRefuse(t, b)

		close(release)
		synctest.Wait()
		if got, want := b.Snapshot().State, StateClosed; got != want {
			t.Fatalf("state after both probes succeeded = %q, want %q", got, want)
		}
	})
}

func TestTimeoutCancelsCallAndCountsAsFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions()
		o.Timeout = 2 * time.Second
		b := New(o)

		for range 4 {
			start := time.Now()
			var waited time.Duration
			err := b.Do(t.Context(), func(ctx context.Context) error {
				<-ctx.Done()
				waited = time.Since(start)
				return ctx.Err()
			})
			if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrOpen) {
				t.Fatalf("Do of a hung call = %v, want ErrTimeout only", err)
			}
			if waited != o.Timeout {
				t.Fatalf("fn's context ended after %v, want %v", waited, o.Timeout)
			}
		}
		if got, want := b.Snapshot().State, StateOpen; got != want {
			t.Fatalf("state after 4 timeouts = %q, want %q", got, want)
		}
	})
}

func TestHungProbeReopensAtTimeoutEvenIfItIgnoresContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions()
		o.Timeout = 2 * time.Second
		b := New(o)
		trip(t, b)
		time.Sleep(10 * time.Second)

		release := make(chan struct{})
		done := make(chan error)
		go func() {
			done <- b.Do(t.Context(), func(context.Context) error {
				<-release // ignores its context
				return nil
			})
		}()
		synctest.Wait()
		if got, want := b.Snapshot().State, StateHalfOpen; got != want {
			t.Fatalf("state during the probe = %q, want %q", got, want)
		}

		time.Sleep(o.Timeout)
		synctest.Wait()
		got := b.Snapshot()
		want := Snapshot{Name: "provider", State: StateOpen, NextProbeIn: 10 * time.Second}
		if got != want {
			t.Fatalf("Snapshot at the probe's timeout = %+v, want %+v", got, want)
		}

		close(release)
		if err := <-done; err != nil {
			t.Fatalf("Do of a call that succeeded late = %v, want nil", err)
		}
	})
}

func TestTimedOutCallReturningErrorReportsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions()
		o.Timeout = time.Second
		b := New(o)

		err := b.Do(t.Context(), func(ctx context.Context) error {
			<-ctx.Done()
			return errors.Join(ErrOpen, ctx.Err()) // as a nested breaker might
		})
		if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrOpen) {
			t.Fatalf("Do = %v, want ErrTimeout and not ErrOpen", err)
		}
	})
}

func TestCallerCancellationIsNotCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions()
		o.Timeout = 5 * time.Second
		b := New(o)

		for range 10 {
			ctx, cancel := context.WithCancel(t.Context())
			err := b.Do(ctx, func(ctx context.Context) error {
				cancel()
				return ctx.Err()
			})
			if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
				t.Fatalf("Do cancelled by caller = %v, want context.Canceled only", err)
			}
		}
		if got, want := b.Snapshot().State, StateClosed; got != want {
			t.Fatalf("state after 10 caller cancellations = %q, want %q", got, want)
		}

		// Calls are not counted as successes either: 4 failures still open it.
		trip(t, b)
	})
}

func TestCallerDeadlineBeforeTimeoutIsNotCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions()
		o.Timeout = 5 * time.Second
		b := New(o)

		for range 10 {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			err := b.Do(ctx, func(ctx context.Context) error {
				<-ctx.Done()
				return ctx.Err()
			})
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
				t.Fatalf("Do past the caller's deadline = %v, want DeadlineExceeded only", err)
			}
		}
		if got, want := b.Snapshot().State, StateClosed; got != want {
			t.Fatalf("state after 10 caller deadlines = %q, want %q", got, want)
		}
	})
}

func TestCancelledContextSkipsCall(t *testing.T) {
	b := New(testOptions())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	called := false
	err := b.Do(ctx, func(context.Context) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrOpen) {
		t.Fatalf("Do with a cancelled context = %v, want context.Canceled only", err)
	}
	if called {
		t.Fatalf("fn was called with an already cancelled context")
	}
}

func TestAbandonedProbeGivesItsSlotBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(testOptions())
		trip(t, b)
		time.Sleep(10 * time.Second)

		ctx, cancel := context.WithCancel(t.Context())
		go b.Do(ctx, func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		synctest.Wait()
		cancel()
		synctest.Wait()
		if got, want := b.Snapshot().State, StateHalfOpen; got != want {
			t.Fatalf("state after an abandoned probe = %q, want %q", got, want)
		}

		// Both probe slots are free again.
		release, running := holdCalls(t, b, 2, errBoom)
		synctest.Wait()
		if got, want := running.Load(), int32(2); got != want {
			t.Fatalf("probes admitted after an abandoned one = %d, want %d", got, want)
		}
		close(release)
		synctest.Wait()
		if got, want := b.Snapshot().State, StateOpen; got != want {
			t.Fatalf("state after failed probes = %q, want %q", got, want)
		}
	})
}

func TestErrorsNotFailuresCountAsSuccesses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions()
		o.IsFailure = func(err error) bool { return !errors.Is(err, errDecline) }
		b := New(o)

		for range 8 {
			err := b.Do(t.Context(), func(context.Context) error { return errDecline })
			if err != errDecline {
				t.Fatalf("Do = %v, want %v unchanged", err, errDecline)
			}
		}
		if got, want := b.Snapshot().State, StateClosed; got != want {
			t.Fatalf("state after 8 declines = %q, want %q", got, want)
		}

		// They dilute the failure rate like successes: 8 declines and
		// 7 failures stay under one half.
		for range 7 {
			_ = b.Do(t.Context(), fail)
		}
		if got, want := b.Snapshot().State, StateClosed; got != want {
			t.Fatalf("state at 7 failures in 15 = %q, want %q", got, want)
		}
	})
}

func TestDeclinesCloseHalfOpenBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions()
		o.IsFailure = func(err error) bool { return !errors.Is(err, errDecline) }
		b := New(o)
		trip(t, b)
		time.Sleep(10 * time.Second)

		for range 2 {
			_ = b.Do(t.Context(), func(context.Context) error { return errDecline })
		}
		if got, want := b.Snapshot().State, StateClosed; got != want {
			t.Fatalf("state after 2 declined probes = %q, want %q", got, want)
		}
	})
}

func TestPanickingCallCountsAsFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions()
		o.MinRequests = 1
		b := New(o)
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("recovered %v, want the call's panic", r)
				}
			}()
			_ = b.Do(t.Context(), func(context.Context) error { panic("boom") })
		}()
		if got, want := b.Snapshot().State, StateOpen; got != want {
			t.Fatalf("state after a panic = %q, want %q", got, want)
		}
	})
}

func TestForceOpenRefusesUntilReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var changes []string
		o := testOptions()
		o.OnStateChange = func(name string, from, to State) {
			changes = append(changes, name+":"+string(from)+">"+string(to))
		}
		b := New(o)

		b.ForceOpen()
		mustRefuse(t, b)
		time.Sleep(time.Hour)
		mustRefuse(t, b)
		got := b.Snapshot()
		want := Snapshot{Name: "provider", State: StateOpen, Forced: true}
		if got != want {
			t.Fatalf("Snapshot while forced = %+v, want %+v", got, want)
		}

		b.Reset()
		if err := b.Do(t.Context(), succeed); err != nil {
			t.Fatalf("Do after Reset = %v, want nil", err)
		}
		got = b.Snapshot()
		want = Snapshot{Name: "provider", State: StateClosed}
		if got != want {
			t.Fatalf("Snapshot after Reset = %+v, want %+v", got, want)
		}
		wantChanges := "provider:closed>open provider:open>closed"
		if got := strings.Join(changes, " "); got != wantChanges {
			t.Fatalf("state changes = %q, want %q", got, wantChanges)
		}
	})
}

func TestResetForgetsCountedFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(testOptions())
		for range 3 {
			_ = b.Do(t.Context(), fail)
		}
		b.Reset()
		_ = b.Do(t.Context(), fail)
		if got, want := b.Snapshot().State, StateClosed; got != want {
			t.Fatalf("state after Reset and 1 failure = %q, want %q", got, want)
		}
	})
}

func TestStateChangesAreLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		o := testOptions()
		o.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
		b := New(o)
		trip(t, b)

		var rec map[string]any
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			t.Fatalf("log is not one JSON record: %v: %s", err, buf.Bytes())
		}
		want := map[string]any{
			"level": "INFO", "msg": "breaker state changed", "component": "breaker",
			"breaker": "provider", "from": "closed", "to": "open",
		}
		for k, v := range want {
			if rec[k] != v {
				t.Fatalf("log %s = %v, want %v", k, rec[k], v)
			}
		}
	})
}

func TestJitterSpreadsProbeDelays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions()
		o.Jitter = 0.2
		seen := make(map[time.Duration]bool)
		for range 20 {
			b := New(o)
			trip(t, b)
			d := b.Snapshot().NextProbeIn
			if d < 8*time.Second || d > 12*time.Second {
				t.Fatalf("NextProbeIn = %v, want within 10s ± 20%%", d)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Fatalf("20 breakers got %d distinct delays, want them spread", len(seen))
		}
	})
}

func TestNoJitterGivesExactDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for range 5 {
			b := New(testOptions())
			trip(t, b)
			if got, want := b.Snapshot().NextProbeIn, 10*time.Second; got != want {
				t.Fatalf("NextProbeIn without jitter = %v, want %v", got, want)
			}
		}
	})
}

func TestSnapshotJSON(t *testing.T) {
	s := Snapshot{Name: "webhook:example.com", State: StateOpen, NextProbeIn: time.Second}
	got, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	want := `{"name":"webhook:example.com","state":"open",` +
		`"next_probe_in_ns":1000000000,"forced":false}`
	if string(got) != want {
		t.Fatalf("JSON = %s, want %s", got, want)
	}
}

func TestInvalidOptionsPanic(t *testing.T) {
	for _, o := range []Options{{FailureRate: 1.5}, {OpenFor: -time.Second}, {Jitter: 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("New(%+v) did not panic", o)
				}
			}()
			New(o)
		}()
	}
}

func TestConcurrentCallsAreCountedOnce(t *testing.T) {
	o := testOptions()
	o.Timeout = time.Second
	b := New(o)

	var calls, refused, other atomic.Int64
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 500 {
				fn := succeed
				if (g+i)%3 == 0 {
					fn = fail
				}
				err := b.Do(context.Background(), func(ctx context.Context) error {
					calls.Add(1)
					return fn(ctx)
				})
				switch {
				case errors.Is(err, ErrOpen):
					refused.Add(1)
				case err != nil && !errors.Is(err, errBoom):
					other.Add(1)
				}
				if i%100 == 0 {
					_ = b.Snapshot()
				}
			}
		})
	}
	wg.Wait()

	if got, want := calls.Load()+refused.Load(), int64(32*500); got != want {
		t.Fatalf("calls + refusals = %d, want %d", got, want)
	}
	if got := other.Load(); got != 0 {
		t.Fatalf("unexpected errors = %d, want 0", got)
	}
}

func TestConcurrentCallsThroughTransitionsLeakNoProbeSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions()
		o.OpenFor = 5 * time.Millisecond
		o.Window = 100 * time.Millisecond
		o.Timeout = 3 * time.Millisecond
		o.Jitter = 0.5
		var opened, probed atomic.Int32
		o.OnStateChange = func(_ string, _, to State) {
			switch to {
			case StateOpen:
				opened.Add(1)
			case StateHalfOpen:
				probed.Add(1)
			}
		}
		b := New(o)

		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				for i := range 300 {
					ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
					if (g+i)%7 == 0 {
						cancel() // some callers give up at once
					}
					_ = b.Do(ctx, func(ctx context.Context) error {
						return stormCall(ctx, g, i)
					})
					cancel()
					time.Sleep(time.Duration(i%3) * time.Millisecond)
				}
			})
		}
		wg.Wait()
		if opened.Load() < 2 || probed.Load() < 2 {
			t.Fatalf("storm opened %d and half-opened %d times, want several", opened.Load(), probed.Load())
		}
		t.Logf("opened %d, half-opened %d times", opened.Load(), probed.Load())

		// Whatever happened, the dependency is healthy now and the breaker
		// must be able to close: no probe slot may have leaked.
		time.Sleep(time.Second)
		for range 2 {
			if err := b.Do(t.Context(), succeed); err != nil {
				t.Fatalf("probe after the storm = %v, want nil", err)
			}
		}
		if got, want := b.Snapshot().State, StateClosed; got != want {
			t.Fatalf("state after the storm = %q, want %q", got, want)
		}
	})
}

// stormCall fails often, sometimes hangs past the timeout, and sometimes
// ignores its context.
func stormCall(ctx context.Context, g, i int) error {
	switch (g*31 + i) % 5 {
	case 0:
		<-ctx.Done()
		return ctx.Err()
	case 1:
		time.Sleep(4 * time.Millisecond) // ignores ctx, outlives the timeout
		return nil
	case 2, 3:
		return errBoom
	default:
		return nil
	}
}

// holdCalls starts n calls through b that each wait for release to close,
// then return result; running counts the calls the breaker let through.
func holdCalls(t *testing.T, b *Breaker, n int, result error) (chan struct{}, *atomic.Int32) {
	release := make(chan struct{})
	running := new(atomic.Int32)
	for range n {
		go b.Do(t.Context(), func(context.Context) error {
			running.Add(1)
			<-release
			return result
		})
	}
	return release, running
}
