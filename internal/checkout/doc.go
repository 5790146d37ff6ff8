// Package checkout is the write path of an order: it records the order,
// charges the payment provider and settles the order's status, as a series of
// steps that each commit, so that a request that dies half way is resumed
// from its last step and never charges twice.
//
// Its operations run under package idempotency: CreateOrder is the Func of
// POST /v1/orders. The steps and their recovery points are:
//
//	""              validate the body; nothing is written for a bad request
//	order_created   the order is stored (pending) and the key bound to it
//	payment_sent    the order is processing, payment in_flight; from here on
//	                the provider may have seen the payment, so a resumed
//	                request sends the same provider key again
//	payment_deferred / payment_unknown
//	                the provider was not reached, or did not answer; the
//	                request is unfinished and will be resumed
//	(finish)        the outcome and the stored response commit together
//
// The provider key of a payment is derived from the tenant, the order and the
// payment attempt (ProviderKey), so every retry of one attempt, from any
// process, sends the provider the same key.
package checkout
