// Package web serves writepath's browser side: the checkout page at /, the
// operator's view at /ops, and the static files they load from /static/,
// all embedded in the binary so that a fresh clone needs no build step.
//
// The pages talk to the /v1 API with the browser client in
// static/writepath-client.js. That module keeps one idempotency key per
// logical checkout (in sessionStorage, so double clicks, network errors and
// reloads all reuse it), retries what is safe to retry with backoff and
// jitter, and follows an order through its event stream, read with fetch so
// that it can carry the Authorization header that EventSource cannot send.
//
// With Options.Demo, /demo/config.json hands the pages the demo tenant's API
// key, and /demo/faults relays the fault switches of the built-in payment
// provider, whose own port the browser cannot reach across origins. Without
// it, the pages ask for an API key and /demo/ answers 404.
//
// Every response carries a strict Content-Security-Policy: the pages load
// nothing but their own files and talk to nothing but their own origin.
package web
