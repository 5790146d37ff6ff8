package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/writepath/writepath/internal/app"
	"github.com/writepath/writepath/internal/store/storetest"
)

// requireBrowserEnv, set to 1, turns a missing Chromium from a skip into a
// failure, so that CI cannot pass without running the browser tests.
const requireBrowserEnv = "WRITEPATH_REQUIRE_BROWSER"

// browserWait bounds each wait for the page: generous, so that a slow
// machine passes, and bounded, so that a broken page fails in seconds.
const browserWait = 15 * time.Second

// browser is one headless Chromium with one tab, driving the web UI of a
// service under test.
type browser struct {
	t    *testing.T
	ctx  context.Context // the tab's
	base string          // the origin pages are loaded from

	mu     sync.Mutex
	errors []string // guarded by mu: what the pages reported
}

// chromiumPath finds Chromium, or skips the test (fails it under
// WRITEPATH_REQUIRE_BROWSER=1) when there is none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(requireBrowserEnv) == "1" {
		t.Fatalf("no chromium on PATH, and %s=1: install it (apt-get install chromium)",
			requireBrowserEnv)
	}
	t.Skipf("no chromium on PATH: browser tests skipped (apt-get install chromium; "+
		"set %s=1 to make this a failure)", requireBrowserEnv)
	return ""
}

// startBrowser starts a headless Chromium with a fresh profile, so that
// sessionStorage and localStorage start empty, and stops it at cleanup,
// before the service stops (cleanups run last first).
func startBrowser(t *testing.T, base string) *browser {
	t.Helper()
	exe := chromiumPath(t)
	profile := t.TempDir()

	// The background-networking flags keep Chromium from dialling out: on
	// a closed network its connections are refused and it stalls.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(profile),
		chromedp.WindowSize(900, 1000),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
	)
	ctx, cancelTab := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx, base: base}
	t.Cleanup(func() {
		for _, e := range b.pageErrors() {
			t.Errorf("the page reported: %s", e)
		}
		cancelTab()
		cancelAlloc() // waits for the process, before its profile is removed
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser, without a deadline
		t.Fatalf("start chromium: %v", err)
	}
	b.watchPageErrors()
	return b
}

// watchPageErrors collects what the pages must never cause: uncaught
// exceptions and rejections, and security (Content-Security-Policy)
// violations. Failed requests are expected: the tests break the network.
func (b *browser) watchPageErrors() {
	exceptions := chromedp.Events(b.ctx, runtime.ExceptionThrown)
	entries := chromedp.Events(b.ctx, cdplog.EntryAdded)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			b.pageError(text)
		}
	}()
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if e := ev.Entry; e.Source == cdplog.EntrySourceSecurity ||
				e.Source == cdplog.EntrySourceJavascript && e.Level == cdplog.EntryLevelError {
				b.pageError(string(e.Source) + ": " + e.Text)
			}
		}
	}()
}

func (b *browser) pageError(text string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, text)
}

func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// do runs actions with a bounded wait.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v; the page says %q", what, err, b.statusText())
	}
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// openCheckout loads the checkout page with the API key in the tab's
// sessionStorage, where the page keeps a key typed into its key field,
// and waits until the form can be used.
func (b *browser) openCheckout(apiKey string) {
	b.t.Helper()
	b.do("open checkout", chromedp.Navigate(b.base+"/"),
		chromedp.Evaluate[chromedp.Void](
			fmt.Sprintf(`sessionStorage.setItem("writepath.apiKey", %q)`, apiKey)),
		chromedp.Reload())
	b.waitFor("the form enabled", `!document.getElementById("place-order").disabled`)
}

// choose picks a payment method on the checkout form.
func (b *browser) choose(method string) {
	b.t.Helper()
	b.do("choose "+method, chromedp.Click(chromedp.CSS(`input[value="`+method+`"]`)))
}

// waitFor waits until a JavaScript predicate holds on the page.
func (b *browser) waitFor(what, predicate string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0)))
	if err != nil {
		b.t.Fatalf("wait for %s: %v; the page says %q", what, err, b.statusText())
	}
}

// waitConfirmed waits until the status line says the order is confirmed,
// whatever it says of the email.
func (b *browser) waitConfirmed() {
	b.t.Helper()
	b.waitFor("order confirmed",
		`document.getElementById("status").textContent.startsWith("Order confirmed.")`)
}

// waitStatus waits until the order's status line says exactly want.
func (b *browser) waitStatus(want string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("status %q", want),
		fmt.Sprintf(`document.getElementById("status").textContent === %q`, want))
}

// statusText is the order's status line, or "" when it cannot be read.
func (b *browser) statusText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`document.getElementById("status")?.textContent ?? ""`))
	if err != nil {
		return ""
	}
	return s
}

// shown reports whether the element with the id is rendered.
func (b *browser) shown(id string) bool {
	b.t.Helper()
	return eval[bool](b, fmt.Sprintf(
		`(() => { const e = document.getElementById(%q); return !!e && e.checkVisibility(); })()`, id))
}

// orderID is the order id the page shows.
func (b *browser) orderID() string {
	b.t.Helper()
	return eval[string](b, `document.getElementById("order-id")?.textContent ?? ""`)
}

// wantControls checks which of the retry controls the page offers.
func (b *browser) wantControls(retry, payAgain bool) {
	b.t.Helper()
	if got := b.shown("retry"); got != retry {
		b.t.Errorf("retry button shown = %v, want %v (status %q)", got, retry, b.statusText())
	}
	if got := b.shown("pay-again"); got != payAgain {
		b.t.Errorf("pay-again control shown = %v, want %v (status %q)", got, payAgain,
			b.statusText())
	}
}

// screenshot saves the page as artifacts/browser/<TestName>-<state>.png at
// the repository root, for a person to look at.
func (b *browser) screenshot(state string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", state, err)
	}
	dir := filepath.Join(repoRoot(b.t), "artifacts", "browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name()) + "-" + state + ".png"
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// repoRoot is the directory holding go.mod, above the test's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// faultyProxy stands between the browser and the service, and breaks what
// a test asks it to:
//
//   - loseFirstOrder: it forwards the first order request and reads the
//     service's whole answer, so the order is committed, and then hangs up
//     without passing the answer on: the response is lost on the way back.
//   - refuseEvents: it answers every event stream request 502, as a proxy
//     that cannot stream would, so the page has to poll.
//
// Everything else passes through, event streams included.
type faultyProxy struct {
	*httptest.Server
	mu      sync.Mutex
	posts   []proxiedPost // every POST /v1/orders, in order
	reads   int           // GET /v1/orders/{id}, the polls
	lost    bool          // the first order's answer has been lost
	options proxyFaults
}

// proxyFaults are what a faultyProxy breaks.
type proxyFaults struct {
	loseFirstOrder bool
	refuseEvents   bool
}

// proxiedPost is one order request as the proxy saw it.
type proxiedPost struct {
	key      string // Idempotency-Key
	status   int
	replayed string // Idempotent-Replayed
	lost     bool   // the answer never reached the browser
}

func startFaultyProxy(t *testing.T, target string, faults proxyFaults) *faultyProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultyProxy{options: faults}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		r := resp.Request
		if r.Method == http.MethodPost && r.URL.Path == "/v1/orders" {
			p.record(proxiedPost{key: r.Header.Get("Idempotency-Key"), status: resp.StatusCode,
				replayed: resp.Header.Get("Idempotent-Replayed")})
		}
		return nil
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// One connection per request: Chromium resends a request on its own
		// when a reused keep-alive connection fails, which would hide
		// whether the page's client retried. On a fresh one it does not.
		w.Header().Set("Connection", "close")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/orders" && p.loseThisOne():
			p.forwardAndHangUp(t, w, r, target)
			return
		case faults.refuseEvents && strings.HasSuffix(r.URL.Path, "/events"):
			http.Error(w, "this proxy does not stream", http.StatusBadGateway)
			return
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/orders/"):
			p.mu.Lock()
			p.reads++
			p.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// loseThisOne reports whether this order request's answer is to be lost.
func (p *faultyProxy) loseThisOne() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	lose := p.options.loseFirstOrder && !p.lost
	p.lost = p.lost || lose
	return lose
}

func (p *faultyProxy) record(pp proxiedPost) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.posts = append(p.posts, pp)
}

// Posts returns the order requests seen so far.
func (p *faultyProxy) Posts() []proxiedPost {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]proxiedPost(nil), p.posts...)
}

// Reads counts the plain reads of an order seen so far: the page's polls.
func (p *faultyProxy) Reads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reads
}

func (p *faultyProxy) forwardAndHangUp(t *testing.T, w http.ResponseWriter, r *http.Request,
	target string) {
	req, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method,
		target+r.URL.RequestURI(), r.Body)
	if err == nil {
		req.Header = r.Header.Clone()
		var resp *http.Response
		if resp, err = http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			p.record(proxiedPost{key: r.Header.Get("Idempotency-Key"), status: resp.StatusCode,
				replayed: resp.Header.Get("Idempotent-Replayed"), lost: true})
		}
	}
	if err != nil {
		t.Errorf("proxy: forward the first order: %v", err)
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		t.Errorf("proxy: hijack: %v", err)
		return
	}
	if conn != nil {
		_ = conn.Close()
	}
}

// demoService is an instance run as serve --demo runs it: the built-in
// provider and a demo tenant whose key the web UI hands to the pages.
type demoService struct {
	url string
	app *app.App
	key string // the demo tenant's API key
}

func startDemoService(t *testing.T) *demoService {
	t.Helper()
	d := &demoService{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Config{
		Addr: "127.0.0.1:0", Database: storetest.URL(t, "sqlite"),
		Provider: app.BuiltinProvider, Demo: true, OnDemoKey: func(k string) { d.key = k },
		Logger: slog.New(slog.DiscardHandler), MailDir: t.TempDir(), Queue: fastQueue,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	d.url, d.app = "http://"+a.Addr(), a
	return d
}
