package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every series of ours.
const namespace = "writepath"

// Reasons for an idempotency conflict, the reason label of
// writepath_idempotency_conflicts_total.
const (
	// ConflictInUse is a key whose first request is still running (409).
	ConflictInUse = "in_use"
	// ConflictReused is a key first used with a different request (422).
	ConflictReused = "reused"
)

// Outcomes of a call to the payment provider, the outcome label of
// writepath_provider_requests_total. They keep apart what the service must
// never confuse: a call that was not sent and one sent without an answer.
const (
	// ProviderSucceeded is a call the provider answered with success.
	ProviderSucceeded = "succeeded"
	// ProviderDeclined is a definitive decline; not a provider failure.
	ProviderDeclined = "declined"
	// ProviderNotSent is a call refused before it ran: breaker open,
	// connection refused, or the provider turned it away before executing.
	ProviderNotSent = "not_sent"
	// ProviderUnknown is a call that was sent and got no answer (timeout,
	// dropped connection): it may have taken effect.
	ProviderUnknown = "unknown"
	// ProviderError is any other error answer, such as a 500 or a 429.
	ProviderError = "error"
)

// Metrics holds writepath's registry and every collector in it. The
// collectors are exported for tests and for call sites the methods do not
// cover; prefer the methods, which are safe on a nil *Metrics.
type Metrics struct {
	// Registry holds the collectors below and the Go and process collectors.
	Registry *prometheus.Registry

	// HTTPRequests is writepath_http_requests_total{route,method,status}:
	// requests answered, by mux pattern, method and status code.
	HTTPRequests *prometheus.CounterVec
	// HTTPDuration is writepath_http_request_duration_seconds{route,method}:
	// the time from receiving a request to the handler's return.
	HTTPDuration *prometheus.HistogramVec

	// IdempotentReplays is writepath_idempotent_replays_total{route}: stored
	// responses sent again to a retry with the same key and request.
	IdempotentReplays *prometheus.CounterVec
	// IdempotencyConflicts is writepath_idempotency_conflicts_total
	// {route,reason}: keys refused, reason ConflictInUse or ConflictReused.
	IdempotencyConflicts *prometheus.CounterVec
	// IdempotencyRecoveries is writepath_idempotency_recoveries_total
	// {route,outcome}: requests left unfinished (by a crash or a lost lease)
	// and resumed, by a retry or in the background, from their last
	// committed step.
	IdempotencyRecoveries *prometheus.CounterVec

	// ProviderRequests is writepath_provider_requests_total
	// {operation,outcome}: calls to the payment provider, outcome one of
	// the Provider* constants.
	ProviderRequests *prometheus.CounterVec
	// ProviderDuration is writepath_provider_request_duration_seconds
	// {operation}: how long calls to the payment provider took, whatever
	// their outcome.
	ProviderDuration *prometheus.HistogramVec

	// OrderTransitions is writepath_order_transitions_total{from,to}: order
	// status changes, such as pending to processing.
	OrderTransitions *prometheus.CounterVec
	// OrdersCreated is writepath_orders_created_total: orders recorded, once
	// each, however often their request was retried.
	OrdersCreated prometheus.Counter

	// QueueDepth is writepath_queue_depth: jobs waiting per queue.
	QueueDepth *prometheus.GaugeVec
	// QueueOldestAge is writepath_queue_oldest_job_age_seconds: how long
	// the oldest ready job of each queue has waited.
	QueueOldestAge *prometheus.GaugeVec
	// JobOutcomes is writepath_jobs_total: jobs worked, by kind and outcome.
	JobOutcomes *prometheus.CounterVec
	// AdmissionRejections is writepath_admission_rejections_total.
	AdmissionRejections *prometheus.CounterVec
	// AnalyticsDropped is writepath_analytics_events_dropped_total.
	AnalyticsDropped prometheus.Counter
	// BreakerState is writepath_breaker_state: 0 closed, 1 half-open, 2 open.
	BreakerState *prometheus.GaugeVec
	// BreakerTransitions is writepath_breaker_transitions_total.
	BreakerTransitions *prometheus.CounterVec
}

// New returns Metrics on a fresh registry that also holds the Go runtime and
// process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),

		HTTPRequests: counterVec("http_requests_total",
			"HTTP requests answered, by mux pattern, method and status code.",
			"route", "method", "status"),
		HTTPDuration: histogramVec("http_request_duration_seconds",
			"Time to answer an HTTP request, by mux pattern and method.",
			"route", "method"),

		IdempotentReplays: counterVec("idempotent_replays_total",
			"Stored responses replayed to a retry with the same idempotency key.",
			"route"),
		IdempotencyConflicts: counterVec("idempotency_conflicts_total",
			"Idempotency keys refused: in_use (409) or reused with another request (422).",
			"route", "reason"),
		IdempotencyRecoveries: counterVec("idempotency_recoveries_total",
			"Unfinished idempotent requests resumed from their last committed step.",
			"route", "outcome"),

		ProviderRequests: counterVec("provider_requests_total",
			"Calls to the payment provider, by operation and outcome.",
			"operation", "outcome"),
		ProviderDuration: histogramVec("provider_request_duration_seconds",
			"Duration of calls to the payment provider, by operation.",
			"operation"),

		OrderTransitions: counterVec("order_transitions_total",
			"Order status changes, by previous and new status.",
			"from", "to"),
		OrdersCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "orders_created_total",
			Help:      "Orders recorded.",
		}),

		QueueDepth: gaugeVec("queue_depth",
			"Jobs waiting in a queue: available, scheduled or retryable.", "queue"),
		QueueOldestAge: gaugeVec("queue_oldest_job_age_seconds",
			"Age of the oldest job ready to run in a queue: how long work waits.", "queue"),
		JobOutcomes: counterVec("jobs_total",
			"Jobs worked, by kind and outcome (done, duplicate, retry, snoozed, dead).",
			"kind", "outcome"),
		AdmissionRejections: counterVec("admission_rejections_total",
			"Requests refused with 503 because the must-deliver backlog is too old.",
			"route"),
		AnalyticsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "analytics_events_dropped_total",
			Help:      "Best-effort analytics events not enqueued because their queue was full.",
		}),
		BreakerState: gaugeVec("breaker_state",
			"Circuit breaker state by dependency: 0 closed, 1 half-open, 2 open.", "breaker"),
		BreakerTransitions: counterVec("breaker_transitions_total",
			"Circuit breaker state changes, by dependency, previous and new state.",
			"breaker", "from", "to"),
	}

	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.HTTPRequests, m.HTTPDuration,
		m.IdempotentReplays, m.IdempotencyConflicts, m.IdempotencyRecoveries,
		m.ProviderRequests, m.ProviderDuration,
		m.OrderTransitions, m.OrdersCreated,
		m.QueueDepth, m.QueueOldestAge, m.JobOutcomes, m.AdmissionRejections,
		m.AnalyticsDropped, m.BreakerState, m.BreakerTransitions,
	)
	return m
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	opts := prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}
	return prometheus.NewCounterVec(opts, labels)
}

// histogramVec uses the default buckets (5 ms to 10 s): they span both a
// local database write and a provider call that ends in its timeout.
func gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name,
		Help: help}, labels)
}

func histogramVec(name, help string, labels ...string) *prometheus.HistogramVec {
	opts := prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help}
	return prometheus.NewHistogramVec(opts, labels)
}

// Handler returns the handler that serves the registry in the Prometheus
// exposition formats. On a nil *Metrics it answers 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// IdempotentReplay counts a stored response sent again on route.
func (m *Metrics) IdempotentReplay(route string) {
	if m == nil {
		return
	}
	m.IdempotentReplays.WithLabelValues(route).Inc()
}

// IdempotencyConflict counts a key refused on route; reason is ConflictInUse
// or ConflictReused.
func (m *Metrics) IdempotencyConflict(route, reason string) {
	if m == nil {
		return
	}
	m.IdempotencyConflicts.WithLabelValues(route, reason).Inc()
}

// IdempotencyRecovery counts an unfinished request on route that was resumed;
// outcome is a short fixed word chosen by the caller (such as "completed" or
// "failed"), never an error message.
func (m *Metrics) IdempotencyRecovery(route, outcome string) {
	if m == nil {
		return
	}
	m.IdempotencyRecoveries.WithLabelValues(route, outcome).Inc()
}

// ProviderRequest records one call to the payment provider: operation is a
// fixed name such as "create_payment", outcome one of the Provider*
// constants, took the time the call lasted.
func (m *Metrics) ProviderRequest(operation, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.ProviderRequests.WithLabelValues(operation, outcome).Inc()
	m.ProviderDuration.WithLabelValues(operation).Observe(took.Seconds())
}

// OrderTransition counts an order moving from one status to another.
func (m *Metrics) OrderTransition(from, to string) {
	if m == nil {
		return
	}
	m.OrderTransitions.WithLabelValues(from, to).Inc()
}

// OrderCreated counts a newly recorded order. Call it once per order, where
// the order is committed, not once per request.
func (m *Metrics) OrderCreated() {
	if m == nil {
		return
	}
	m.OrdersCreated.Inc()
}

// QueueLag sets a queue's depth and the age of its oldest ready job.
func (m *Metrics) QueueLag(queue string, depth int, oldest time.Duration) {
	if m == nil {
		return
	}
	m.QueueDepth.WithLabelValues(queue).Set(float64(depth))
	m.QueueOldestAge.WithLabelValues(queue).Set(oldest.Seconds())
}

// JobOutcome counts a worked job.
func (m *Metrics) JobOutcome(kind, outcome string) {
	if m == nil {
		return
	}
	m.JobOutcomes.WithLabelValues(kind, outcome).Inc()
}

// AdmissionRejected counts a request refused by admission control.
func (m *Metrics) AdmissionRejected(route string) {
	if m == nil {
		return
	}
	m.AdmissionRejections.WithLabelValues(route).Inc()
}

// AnalyticsDrop counts an analytics event dropped under pressure.
func (m *Metrics) AnalyticsDrop() {
	if m == nil {
		return
	}
	m.AnalyticsDropped.Inc()
}

// BreakerChanged records a circuit breaker's transition and new state.
func (m *Metrics) BreakerChanged(name, from, to string) {
	if m == nil {
		return
	}
	m.BreakerTransitions.WithLabelValues(name, from, to).Inc()
	m.BreakerState.WithLabelValues(name).Set(map[string]float64{"closed": 0, "half_open": 1,
		"open": 2}[to])
}

// BreakerReading is one circuit breaker as a scrape sees it.
type BreakerReading struct {
	Name        string
	NextProbeIn time.Duration // zero unless open
}

// ObserveBreakers registers writepath_breaker_next_probe_seconds, read from
// the breakers at each scrape: seconds until an open breaker lets a probe
// through, zero when it is closed or ready to probe.
func (m *Metrics) ObserveBreakers(read func() []BreakerReading) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(&breakerCollector{read: read, desc: prometheus.NewDesc(
		namespace+"_breaker_next_probe_seconds",
		"Seconds until an open circuit breaker lets a probe call through.",
		[]string{"breaker"}, nil)})
}

type breakerCollector struct {
	read func() []BreakerReading
	desc *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c *breakerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *breakerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, b := range c.read() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue,
			b.NextProbeIn.Seconds(), b.Name)
	}
}
