// Package idempotency makes HTTP write requests safe to retry.
//
// A client sends an Idempotency-Key header with a write request. The first
// request with a key claims it by an atomic insert and runs; every retry with
// the same scope (usually the tenant), key and request gets the first stored
// response again, byte for byte, marked Idempotent-Replayed: true. A retry with
// the same key but a different request (method, path or body) is refused with
// 422, and a retry that arrives while the first request still runs gets 409
// with Retry-After.
//
// A request is split into steps that each commit in their own database
// transaction (Call.Step), and the record remembers the last committed step as
// its recovery point. The request holds a lease on its key while it runs; if
// the process dies, the lease expires and a retry (or the Engine's background
// completer) takes the key over and resumes from the recovery point instead of
// running the request again from the start. Every write a request makes
// through a Call is conditional on still holding the lease, so a holder that
// lost its lease can never overwrite the work of the one that took over.
//
// Responses that report a problem with the request rather than its result
// (400, 401, 409, 413, 429, 503) and server errors (5xx) are never stored:
// fixing the request and retrying with the same key works.
//
// Stored responses are kept for Options.Retention (24 hours by default). After
// that the reaper drops the stored bytes but keeps the key bound to the
// resource the request created, so a late retry can never create a second
// one: it gets the resource as it is now (Route.Current), or 422 if the
// request differs.
//
// The package works on database/sql and runs on SQLite and PostgreSQL; the
// table it needs is created by CreateTableSQL. Package idemtest checks an
// http.Handler against these rules.
package idempotency
