// Package api serves writepath's HTTP API: the /v1 routes for tenants, the
// operational endpoints (/healthz, /readyz, /metrics) and the problem pages.
//
// Every /v1 request passes the same pipeline, in this order: request id and
// logging, panic recovery, authentication (Authorization: Bearer), the
// tenant's rate limit, then the route. The write routes run under package
// idempotency, which checks the key, bounds the body, fingerprints and claims
// before the checkout runs; so nothing that is refused earlier (401, 429) is
// ever stored as an idempotent result.
package api
