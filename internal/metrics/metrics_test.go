package metrics

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMiddlewareCountsByPatternAndStatus(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	handle(m, mux, "GET /v1/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "ord_missing" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		io.WriteString(w, "{}")
	})
	handle(m, mux, "POST /v1/orders", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		w.WriteHeader(http.StatusInternalServerError) // superfluous: not what was sent
	})

	for _, req := range []struct{ method, path string }{
		{"GET", "/v1/orders/ord_1"},
		{"GET", "/v1/orders/ord_2"},
		{"GET", "/v1/orders/ord_missing"},
		{"POST", "/v1/orders"},
	} {
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}

	tests := []struct {
		labels map[string]string
		want   float64
	}{
		{labels("GET /v1/orders/{id}", "GET", "200"), 2},
		{labels("GET /v1/orders/{id}", "GET", "404"), 1},
		{labels("POST /v1/orders", "POST", "201"), 1},
		{labels("POST /v1/orders", "POST", "500"), 0},
	}
	for _, tt := range tests {
		if got := value(t, m, "writepath_http_requests_total", tt.labels); got != tt.want {
			t.Fatalf("requests %v = %v, want %v", tt.labels, got, tt.want)
		}
	}

	durations := map[string]string{"route": "GET /v1/orders/{id}", "method": "GET"}
	if got := value(t, m, "writepath_http_request_duration_seconds", durations); got != 3 {
		t.Fatalf("duration observations = %v, want 3", got)
	}
	if n := seriesCount(t, m, "writepath_http_requests_total"); n != 3 {
		t.Fatalf("%d request series, want 3: one per pattern, method and status", n)
	}
}

func TestMiddlewareFoldsUnknownMethods(t *testing.T) {
	m := New()
	h := m.Middleware("/", http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/", nil))

	if got := value(t, m, "writepath_http_requests_total", labels("/", "other", "404")); got != 1 {
		t.Fatalf("requests with an unknown method = %v, want 1 under other", got)
	}
}

func TestMiddlewarePassesFlushThrough(t *testing.T) {
	m := New()
	flushErr := make(chan error, 1)
	h := m.Middleware("GET /events", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "data: 1\n\n")
		flushErr <- http.NewResponseController(w).Flush()
	}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/events", nil))

	if err := <-flushErr; err != nil {
		t.Fatalf("Flush through the middleware: %v", err)
	}
	if !rec.Flushed {
		t.Fatalf("the writer underneath was not flushed")
	}
	if _, ok := any(&statusRecorder{}).(http.Flusher); !ok {
		t.Fatalf("statusRecorder is not an http.Flusher")
	}
}

func TestMiddlewareStreamsToClientBeforeHandlerEnds(t *testing.T) {
	m := New()
	release := make(chan struct{})
	deadlineErr := make(chan error, 1)
	h := m.Middleware("GET /events", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Only the real connection underneath has deadlines: reached by Unwrap.
		deadlineErr <- http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute))
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release // the handler ends only after the client has read the event
		io.WriteString(w, "data: last\n\n")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()

	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatalf("first event not received while the handler runs: %v", err)
	}
	if line != "data: first\n" {
		t.Fatalf("first line %q", line)
	}
	if err := <-deadlineErr; err != nil {
		t.Fatalf("SetWriteDeadline through the middleware: %v", err)
	}
}

func TestNilMetricsIsSafe(t *testing.T) {
	var m *Metrics

	m.IdempotentReplay("POST /v1/orders")
	m.IdempotencyConflict("POST /v1/orders", ConflictInUse)
	m.IdempotencyRecovery("POST /v1/orders", "completed")
	m.ProviderRequest("create_payment", ProviderSucceeded, time.Second)
	m.OrderTransition("pending", "processing")
	m.OrderCreated()

	called := false
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
	req := httptest.NewRequest("GET", "/", nil)
	m.Middleware("GET /", next).ServeHTTP(httptest.NewRecorder(), req)
	if !called {
		t.Fatalf("Middleware on nil Metrics did not call next")
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("Handler on nil Metrics: status %d, want 404", rec.Code)
	}
}

func TestMethodsRecordTheirSeries(t *testing.T) {
	m := New()
	m.IdempotentReplay("POST /v1/orders")
	m.IdempotencyConflict("POST /v1/orders", ConflictReused)
	m.IdempotencyRecovery("POST /v1/orders", "completed")
	m.ProviderRequest("create_payment", ProviderUnknown, 2*time.Second)
	m.OrderTransition("pending", "processing")
	m.OrderTransition("pending", "processing")
	m.OrderCreated()

	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"writepath_idempotent_replays_total",
			map[string]string{"route": "POST /v1/orders"}, 1},
		{"writepath_idempotency_conflicts_total",
			map[string]string{"route": "POST /v1/orders", "reason": "reused"}, 1},
		{"writepath_idempotency_recoveries_total",
			map[string]string{"route": "POST /v1/orders", "outcome": "completed"}, 1},
		{"writepath_provider_requests_total",
			map[string]string{"operation": "create_payment", "outcome": "unknown"}, 1},
		{"writepath_provider_request_duration_seconds",
			map[string]string{"operation": "create_payment"}, 1},
		{"writepath_order_transitions_total",
			map[string]string{"from": "pending", "to": "processing"}, 2},
		{"writepath_orders_created_total", map[string]string{}, 1},
	}
	for _, tt := range tests {
		if got := value(t, m, tt.name, tt.labels); got != tt.want {
			t.Fatalf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
}

func TestHandlerExposesEverySeries(t *testing.T) {
	m := New()
	m.Middleware("GET /", http.NotFoundHandler()).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	m.IdempotentReplay("r")
	m.IdempotencyConflict("r", ConflictInUse)
	m.IdempotencyRecovery("r", "completed")
	m.ProviderRequest("create_payment", ProviderDeclined, time.Millisecond)
	m.OrderTransition("processing", "completed")
	m.OrderCreated()

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()

	for _, series := range []string{
		"writepath_http_requests_total",
		"writepath_http_request_duration_seconds_bucket",
		"writepath_idempotent_replays_total",
		"writepath_idempotency_conflicts_total",
		"writepath_idempotency_recoveries_total",
		"writepath_provider_requests_total",
		"writepath_provider_request_duration_seconds_bucket",
		"writepath_order_transitions_total",
		"writepath_orders_created_total",
		"go_goroutines",
	} {
		if !strings.Contains(body, "\n"+series) {
			t.Fatalf("/metrics lacks %s", series)
		}
	}
}

func TestNewUsesAFreshRegistry(t *testing.T) {
	a, b := New(), New()
	a.OrderCreated()

	if got := value(t, b, "writepath_orders_created_total", map[string]string{}); got != 0 {
		t.Fatalf("a second Metrics sees the first one's count: %v", got)
	}
}

// handle registers h on mux under pattern, through m's middleware.
func handle(m *Metrics, mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	mux.Handle(pattern, m.Middleware(pattern, h))
}

func labels(route, method, status string) map[string]string {
	return map[string]string{"route": route, "method": method, "status": status}
}

// value returns the value of the series name with exactly the given labels,
// as /metrics shows it, or 0 if the series has no value yet. For a histogram
// it returns the number of observations.
func value(t *testing.T, m *Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	samples := scrape(t, m)
	if v, ok := samples[seriesKey(name+"_count", labels)]; ok {
		return v
	}
	return samples[seriesKey(name, labels)]
}

// seriesCount returns how many label combinations the series name has.
func seriesCount(t *testing.T, m *Metrics, name string) int {
	t.Helper()
	n := 0
	for key := range scrape(t, m) {
		if strings.HasPrefix(key, name+"{") {
			n++
		}
	}
	return n
}

// scrape reads m's Handler output in the text format into a map from series
// (name and labels, as printed) to value.
func scrape(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))

	samples := map[string]float64{}
	for line := range strings.Lines(rec.Body.String()) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

// seriesKey prints a series as the text format does, labels sorted by name.
func seriesKey(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	pairs := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		pairs = append(pairs, fmt.Sprintf("%s=%q", k, labels[k]))
	}
	return name + "{" + strings.Join(pairs, ",") + "}"
}
