// Package fakeprovider is an in-memory payment provider that speaks a small
// Stripe-like JSON API, keeps a ledger of every charge, and can be told to
// misbehave on purpose.
//
// A Server is an http.Handler. `writepath serve --provider builtin` mounts it
// on a loopback listener inside the service process; `writepath provider`
// serves it alone, so that fault tests can break it from outside.
//
// # Payments
//
// POST /v1/payment_intents creates and confirms a payment in one step. The
// payment method is a test token, never a card number:
//
//	pm_card_visa                             succeeds
//	pm_card_chargeDeclined                   declined, generic_decline
//	pm_card_chargeDeclinedInsufficientFunds  declined, insufficient_funds
//
// A decline answers 402 with a card_error and is recorded in the ledger with
// status "declined". Any other token, and any malformed body, answers 400
// with an invalid_request_error and records nothing.
//
// GET /v1/payment_intents/{id} reads one payment back, and
// GET /v1/payment_intents?order_id=... lists the payments of one order,
// oldest first, which is what a reconciler needs after an unknown outcome.
//
// # Idempotency
//
// Every create must carry an Idempotency-Key header. The first request with a
// key that gets past validation executes, and its answer (success or decline)
// is stored under the key for the life of the process. A later request with
// the same key and the same parameters gets that answer again, byte for byte,
// with Idempotent-Replayed: true; the same key with other parameters gets a
// 400 idempotency_error. Requests with one key are serialized, so racing
// retries never create two payments. Each request that reaches a key's
// payment, replay or mismatch, adds one to the payment's request count in the
// ledger: one ledger entry per key, however many retries.
//
// # Faults
//
// PUT /_control/faults switches a fault on for the /v1 routes (the /_control
// routes are never affected):
//
//	normal             answer normally
//	down               503 before executing anything
//	hang               never answer; wait for the client to give up
//	error              500 without executing, for a share of requests
//	rate_limited       429 with Retry-After: 1, without executing
//	drop_after_charge  execute a create, then close the connection unanswered
//
// latency_ms delays every /v1 request before the mode applies. GET
// /_control/ledger lists every payment with its request count, so that tests
// can prove nothing was charged twice.
package fakeprovider
