package web_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/writepath/writepath/internal/web"
)

func get(t *testing.T, h http.Handler, method, path string, header http.Header,
	body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestServesPagesAndStaticFiles(t *testing.T) {
	h := web.New(web.Options{})
	for _, c := range []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", `src="/static/checkout.js"`},
		{"/ops", "text/html; charset=utf-8", `src="/static/ops.js"`},
		{"/static/writepath-client.js", "text/javascript; charset=utf-8", "export class Checkout"},
		{"/static/writepath-client.d.ts", "text/plain; charset=utf-8", "export class Checkout"},
		{"/static/style.css", "text/css; charset=utf-8", ":root"},
		{"/static/icon.svg", "image/svg+xml", "<svg"},
	} {
		rec := get(t, h, "GET", c.path, nil, "")
		if rec.Code != 200 || rec.Header().Get("Content-Type") != c.ctype ||
			!strings.Contains(rec.Body.String(), c.contains) {
			t.Errorf("GET %s: %d %q, want 200 %q containing %q", c.path, rec.Code,
				rec.Header().Get("Content-Type"), c.ctype, c.contains)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", c.path, csp)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", c.path)
		}
	}
}

func TestRevalidatesWithETag(t *testing.T) {
	h := web.New(web.Options{})
	first := get(t, h, "GET", "/static/writepath-client.js", nil, "")
	etag := first.Header().Get("ETag")
	if etag == "" || first.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, first.Header().Get("Cache-Control"))
	}
	again := get(t, h, "GET", "/static/writepath-client.js",
		http.Header{"If-None-Match": {etag}}, "")
	if again.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", again.Code)
	}
}

func TestAnswersProblemsForWhatItDoesNotHave(t *testing.T) {
	h := web.New(web.Options{})
	for _, path := range []string{"/static/", "/static/nothing.js", "/pages/index.html",
		"/demo/config.json", "/demo/faults", "/elsewhere"} {
		rec := get(t, h, "GET", path, nil, "")
		if rec.Code != 404 || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %d %q, want a 404 problem", path, rec.Code,
				rec.Header().Get("Content-Type"))
		}
	}
}

func TestDemoConfigOnlyInDemoMode(t *testing.T) {
	key := func() string { return "wp_demo" }

	off := web.New(web.Options{DemoKey: key})
	if rec := get(t, off, "GET", "/demo/config.json", nil, ""); rec.Code != 404 {
		t.Errorf("without demo: %d, want 404", rec.Code)
	}
	noKey := web.New(web.Options{Demo: true, DemoKey: func() string { return "" }})
	if rec := get(t, noKey, "GET", "/demo/config.json", nil, ""); rec.Code != 404 {
		t.Errorf("demo without a key yet: %d, want 404", rec.Code)
	}

	on := web.New(web.Options{Demo: true, DemoKey: key})
	rec := get(t, on, "GET", "/demo/config.json", nil, "")
	var cfg struct {
		APIKey string `json:"api_key"`
		Demo   bool   `json:"demo"`
		Faults bool   `json:"faults"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &cfg); err != nil || rec.Code != 200 ||
		cfg.APIKey != "wp_demo" || !cfg.Demo || cfg.Faults {
		t.Errorf("demo config: %d %s (%v)", rec.Code, rec.Body, err)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("demo config is cacheable: %q", rec.Header().Get("Cache-Control"))
	}
}

// fakeControl stands in for the provider's /_control/faults.
type fakeControl struct {
	mu    sync.Mutex
	calls []string // method and body of each call
}

func (f *fakeControl) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path+" "+string(body))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodPut && !strings.Contains(string(body), `"mode"`) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"message":"no mode"}}`)
		return
	}
	_, _ = io.WriteString(w, `{"mode":"down","latency_ms":0,"error_rate":0}`)
}

func TestRelaysFaultSwitchesToTheBuiltinProvider(t *testing.T) {
	fake := &fakeControl{}
	provider := httptest.NewServer(fake)
	defer provider.Close()
	h := web.New(web.Options{Demo: true, DemoKey: func() string { return "k" },
		ProviderURL: provider.URL + "/"})

	jsonCT := http.Header{"Content-Type": {"application/json"}}
	put := get(t, h, "PUT", "/demo/faults", jsonCT, `{"mode":"down"}`)
	if put.Code != 200 || !strings.Contains(put.Body.String(), `"mode":"down"`) {
		t.Errorf("PUT: %d %s", put.Code, put.Body)
	}
	if bad := get(t, h, "PUT", "/demo/faults", jsonCT, `{}`); bad.Code != 400 {
		t.Errorf("PUT refused by the provider: %d, want its 400 passed on", bad.Code)
	}
	if rec := get(t, h, "GET", "/demo/faults", nil, ""); rec.Code != 200 {
		t.Errorf("GET: %d", rec.Code)
	}
	if rec := get(t, h, "PUT", "/demo/faults", nil, `{"mode":"down"}`); rec.Code != 415 {
		t.Errorf("PUT without JSON content type: %d, want 415", rec.Code)
	}

	fake.mu.Lock()
	defer fake.mu.Unlock()
	want := []string{`PUT /_control/faults {"mode":"down"}`, `PUT /_control/faults {}`,
		`GET /_control/faults `}
	if strings.Join(fake.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("provider saw %q, want %q", fake.calls, want)
	}
}

func TestNoFaultSwitchesWithoutBuiltinProvider(t *testing.T) {
	h := web.New(web.Options{Demo: true, DemoKey: func() string { return "k" }})
	if rec := get(t, h, "GET", "/demo/faults", nil, ""); rec.Code != 404 {
		t.Errorf("GET without a built-in provider: %d, want 404", rec.Code)
	}
	rec := get(t, h, "GET", "/demo/config.json", nil, "")
	if !strings.Contains(rec.Body.String(), `"faults":false`) {
		t.Errorf("config %s: want faults false", rec.Body)
	}
}

func TestProviderDownIsAProblem(t *testing.T) {
	provider := httptest.NewServer(http.NotFoundHandler())
	url := provider.URL
	provider.Close() // nothing listens there any more
	h := web.New(web.Options{Demo: true, DemoKey: func() string { return "k" }, ProviderURL: url,
		Logger: slog.New(slog.DiscardHandler)})
	rec := get(t, h, "GET", "/demo/faults", nil, "")
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("provider gone: %d %q, want a 500 problem", rec.Code,
			rec.Header().Get("Content-Type"))
	}
}
