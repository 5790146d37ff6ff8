// Package provider is the client writepath uses to charge a payment provider
// that speaks the small Stripe-like API of package fakeprovider.
//
// Its job is to say truthfully what happened to each call, because the
// service must never confuse "not sent" with "sent, no answer":
//
//   - nil: the provider answered and the call succeeded.
//   - *DeclineError: the card was declined. Definitive; nothing was charged.
//   - ErrInvalidRequest (as *APIError): the provider refused the request as
//     it stands, such as bad parameters or an idempotency key reused with
//     other parameters. Definitive, and not a provider failure.
//   - ErrNotSent (as *NotSentError): the provider certainly did not execute
//     the request: it was never written, or the provider answered 503 or
//     429. Safe to retry, after NotSentError.RetryAfter.
//   - ErrUnknownOutcome: the request may have executed: the answer was lost,
//     timed out, unreadable, or a 5xx other than 503. Settle it by retrying
//     with the same idempotency key, or by reading the payment back, never by
//     charging with a new key.
//
// To tell the last two apart on network errors, the client traces each
// request (net/http/httptrace) and reports "not sent" only when it knows no
// complete request left the process: no connection was obtained, or writing
// the request failed. When it cannot tell, the outcome is unknown.
//
// The client never retries: the caller owns retries and the circuit breaker.
// It also keeps net/http from retrying a create on its own, which the
// Transport otherwise does for requests that carry an Idempotency-Key.
package provider
