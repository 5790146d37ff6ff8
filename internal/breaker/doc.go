// Package breaker puts each outside dependency of writepath (the payment
// provider, every webhook destination host) behind a circuit breaker, so that
// a failing dependency gets fast and truthful answers instead of piling up
// hung calls.
//
// A [Breaker] is closed while the dependency is healthy. When the share of
// failed calls over a sliding window reaches [Options.FailureRate] (with at
// least [Options.MinRequests] calls in the window) it opens: every call is
// refused with [ErrOpen] without running. After [Options.OpenFor], give or
// take [Options.Jitter], it turns half-open and admits a few probes; enough
// successful probes close it again, one failed probe opens it again.
//
// The errors tell callers what happened to the dependency, which is what the
// payment state machine needs:
//
//   - [ErrOpen]: the call was not made. Safe to retry; "not sent".
//   - [ErrTimeout]: the call was made and cut off by [Options.Timeout]. It may
//     have taken effect; "unknown", to be settled with the same idempotency key.
//   - any other error: whatever the call itself returned, unchanged.
//
// What counts as a failure is decided per call:
//
//   - an error for which [Options.IsFailure] is true, and a timeout, are
//     failures;
//   - nil, and an error for which IsFailure is false (a decline, a definitive
//     4xx), are successes: the dependency answered. The underlying library has
//     no neutral outcome, and an answer is evidence of health, so this is the
//     honest choice rather than a compromise;
//   - a call abandoned by its caller (the context given to [Breaker.Do] ended
//     first) says nothing about the dependency and is not counted at all, see
//     [Breaker.Do] for the one exception.
//
// The implementation wraps github.com/failsafe-go/failsafe-go, whose API is
// not yet stable; none of its types leave this package.
package breaker
