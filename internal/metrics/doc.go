// Package metrics defines every Prometheus series writepath exports, in one
// place, each named with the writepath_ prefix.
//
// [New] builds a [Metrics] on a registry of its own, never the global one, so
// that tests can make as many as they like. Packages record through its small
// methods ([Metrics.OrderTransition], [Metrics.IdempotentReplay], ...) at the
// edges of the system, and [Metrics.Handler] serves the result at /metrics.
//
// Every method is a no-op on a nil *Metrics, so a package under unit test can
// run without metrics and production code never checks for nil.
//
// Label values come from small fixed sets chosen by the code, never from
// requests: routes are mux patterns such as "GET /v1/orders/{id}", not paths,
// so that the number of series stays bounded whatever clients send.
package metrics
