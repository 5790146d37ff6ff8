// Package checkout is the write path of an order: it records the order,
// charges the payment provider through its circuit breaker and settles the
// order's status, as a series of steps that each commit, so that a request
// that dies half way is resumed from its last step and never charges twice.
//
// Its operations run under package idempotency: CreateOrder is the Func of
// POST /v1/orders and PayOrder that of POST /v1/orders/{id}/payments. The
// steps and their recovery points are:
//
//	""               validate the body; nothing is written for a bad request
//	order_created    the order is stored (pending) and the key bound to it
//	attempt_started  (pay again) a new attempt is set on a declined order
//	payment_sent     the order is processing, payment in_flight; from here
//	                 on the provider may have seen the payment, so a resumed
//	                 request sends the same provider key again
//	(finish)         the outcome and the stored response commit together
//
// A payment attempt comes to one of three outcomes, kept apart all the way
// to the API. A definitive answer settles the order: completed (and its side
// effects enqueued) or failed. A payment not sent (breaker open, provider
// refused before executing) is, under the queue policy, accepted as queued
// with a charge job that sends it once the breaker lets calls through, and
// fails with payment_unavailable after the retry window; under the reject
// policy it is undone and answered 503. A payment sent without an answer is
// processing with payment unknown, and a reconcile job settles it with the
// same provider key, or by looking it up, never with a new charge.
//
// The provider key of a payment is derived from the tenant, the order and the
// payment attempt (ProviderKey), so every retry of one attempt, from any
// process, after any crash, sends the provider the same key.
package checkout
