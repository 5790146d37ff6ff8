package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/writepath/writepath/internal/fakeprovider"
	"github.com/writepath/writepath/internal/queue"
	"github.com/writepath/writepath/internal/store/storetest"
)

// The words of section 4 of the spec, as the checkout page must show them.
const (
	wordsPlacing     = "Placing your order..."
	wordsAccepted    = "Your order was accepted and is still being processed."
	wordsUnknown     = "Checking whether your payment went through. Please don't pay again."
	wordsUnavailable = "We couldn't reach our payment provider. You have not been charged."
	wordsOnItsWay    = "Order confirmed. Your confirmation email is on its way."
	wordsEmailed     = "Order confirmed. We've emailed you."
)

// startBrowserService starts a service on SQLite and a browser for it.
func startBrowserService(t *testing.T, o serviceOptions) (*service, *browser) {
	t.Helper()
	chromiumPath(t) // skip before starting anything
	s := startService(t, storetest.URL(t, "sqlite"), o)
	return s, startBrowser(t, s.url)
}

// wantOneCharge checks that the provider's ledger holds exactly one
// successful payment, for the order.
func wantOneCharge(t *testing.T, s *service, orderID string) {
	t.Helper()
	var charged []fakeprovider.LedgerEntry
	for _, e := range s.provider.Ledger() {
		if e.Status == fakeprovider.StatusSucceeded {
			charged = append(charged, e)
		}
	}
	if len(charged) != 1 || charged[0].OrderID != orderID {
		t.Errorf("ledger charges %+v: want one, for %s", charged, orderID)
	}
}

func wantOrders(t *testing.T, s *service, n int) {
	t.Helper()
	if got := s.countOrders(); got != n {
		t.Errorf("orders in the database: %d, want %d", got, n)
	}
}

// TestBrowserDoubleClickPlacesOneOrder double-clicks "Place order", and
// submits the form once more from script as a click that slipped past the
// disabled button would: one key, one order, one charge.
func TestBrowserDoubleClickPlacesOneOrder(t *testing.T) {
	s, b := startBrowserService(t, serviceOptions{queue: fastQueue})
	b.openCheckout(s.keys[0])

	b.do("double click", chromedp.DoubleClick(chromedp.ID("place-order")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("checkout-form").requestSubmit()`))
	b.waitConfirmed()
	b.screenshot("confirmed")

	wantOrders(t, s, 1)
	if n := s.countKeys(); n != 1 {
		t.Errorf("idempotency keys used: %d, want 1", n)
	}
	wantOneCharge(t, s, b.orderID())
}

// TestBrowserLostResponseShowsSameOrder loses the answer to the first order
// request after the service committed it: the page retries with the same
// key, gets the stored answer and shows the same order, charged once.
func TestBrowserLostResponseShowsSameOrder(t *testing.T) {
	chromiumPath(t)
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{queue: fastQueue})
	proxy := startFaultyProxy(t, s.url, proxyFaults{loseFirstOrder: true})
	b := startBrowser(t, proxy.URL)
	b.openCheckout(s.keys[0])

	b.do("place order", chromedp.Click(chromedp.ID("place-order")))
	b.waitConfirmed()
	b.screenshot("confirmed-after-retry")

	posts := proxy.Posts()
	if len(posts) < 2 || !posts[0].lost || posts[0].status != 201 {
		t.Fatalf("order requests %+v: want a committed 201 that was lost, then a retry", posts)
	}
	for _, p := range posts[1:] {
		if p.key != posts[0].key {
			t.Errorf("retry sent key %q, want the first request's %q", p.key, posts[0].key)
		}
	}
	if last := posts[len(posts)-1]; last.status != 201 || last.replayed != "true" {
		t.Errorf("last answer %+v: want the stored 201, replayed", last)
	}
	wantOrders(t, s, 1)
	wantOneCharge(t, s, b.orderID())
}

// TestBrowserPaymentsUnavailableOffersRetry refuses orders with 503
// payments-unavailable (reject policy, breaker held open): the page says the
// customer was not charged and offers a retry, which works once the breaker
// closes, with the same key.
func TestBrowserPaymentsUnavailableOffersRetry(t *testing.T) {
	s, b := startBrowserService(t, serviceOptions{policy: "reject", queue: fastQueue})
	s.switchBreaker("provider", "open")
	b.openCheckout(s.keys[0])

	b.do("place order", chromedp.Click(chromedp.ID("place-order")))
	b.waitStatus(wordsUnavailable)
	b.wantControls(true, false)
	b.waitFor("automatic retries to end",
		`document.getElementById("progress").dataset.autoRetry === "false"`)
	b.waitStatus(wordsUnavailable)
	b.wantControls(true, false)
	b.screenshot("not-charged")
	wantOrders(t, s, 0)

	s.switchBreaker("provider", "auto")
	b.do("retry", chromedp.Click(chromedp.ID("retry")))
	b.waitConfirmed()
	b.screenshot("confirmed-after-retry")
	wantOrders(t, s, 1)
	if n := s.countKeys(); n != 1 {
		t.Errorf("idempotency keys used: %d, want 1: the retry must reuse the key", n)
	}
	wantOneCharge(t, s, b.orderID())
}

// TestBrowserUnknownOutcomeSaysDontPayAgain hangs the provider, so the
// payment is sent and never answered: the page says it is checking and
// offers no retry of any kind.
func TestBrowserUnknownOutcomeSaysDontPayAgain(t *testing.T) {
	s, b := startBrowserService(t, serviceOptions{queue: fastQueue})
	if err := s.provider.SetFaults(fakeprovider.Faults{Mode: fakeprovider.ModeHang}); err != nil {
		t.Fatal(err)
	}
	b.openCheckout(s.keys[0])

	b.do("place order", chromedp.Click(chromedp.ID("place-order")))
	b.waitStatus(wordsUnknown)
	b.wantControls(false, false)
	if b.shown("new-order") {
		t.Errorf("a new order is offered while the payment's outcome is unknown")
	}
	b.screenshot("unknown")

	// The provider recovers; the reconciler settles the payment with the
	// same provider key, and the page follows it there.
	if err := s.provider.SetFaults(fakeprovider.Faults{Mode: fakeprovider.ModeNormal}); err != nil {
		t.Fatal(err)
	}
	b.waitConfirmed()
	b.screenshot("settled")
	wantOrders(t, s, 1)
	wantOneCharge(t, s, b.orderID())
}

// TestBrowserDeclineThenPayWithAnotherCard is declined, says why, and
// offers another payment method, which pays the same order.
func TestBrowserDeclineThenPayWithAnotherCard(t *testing.T) {
	s, b := startBrowserService(t, serviceOptions{queue: fastQueue})
	b.openCheckout(s.keys[0])

	b.choose("pm_card_chargeDeclinedInsufficientFunds")
	b.do("place order", chromedp.Click(chromedp.ID("place-order")))
	b.waitStatus("Your card was declined: insufficient funds.")
	b.wantControls(false, true)
	b.screenshot("declined")
	declined := b.orderID()

	b.do("pay with visa", chromedp.SetValue(chromedp.ID("pay-again-method"), "pm_card_visa"),
		chromedp.Click(chromedp.ID("pay-again-submit")))
	b.waitConfirmed()
	b.wantControls(false, false)
	b.screenshot("paid")

	if got := b.orderID(); got != declined {
		t.Errorf("paid order %s, want the declined order %s", got, declined)
	}
	wantOrders(t, s, 1)
	wantOneCharge(t, s, declined)
	if n := len(s.provider.Ledger()); n != 2 {
		t.Errorf("ledger entries %d, want 2: the decline and the charge", n)
	}
}

// TestBrowserEmailQueuedThenSent holds the email queue, so the order is
// confirmed with its email on its way, then lets it run: the page follows
// the order's events to "We've emailed you."
func TestBrowserEmailQueuedThenSent(t *testing.T) {
	s, b := startBrowserService(t, serviceOptions{queue: fastQueue})
	s.pause(queue.QueueEmail)
	b.openCheckout(s.keys[0])

	b.do("place order", chromedp.Click(chromedp.ID("place-order")))
	b.waitStatus(wordsOnItsWay)
	b.screenshot("email-queued")

	if err := s.app.Queue().Resume(context.Background(), queue.QueueEmail); err != nil {
		t.Fatal(err)
	}
	b.waitStatus(wordsEmailed)
	b.wantControls(false, false)
	b.screenshot("email-sent")
	wantOneCharge(t, s, b.orderID())

	// The page heard of the change from the event stream, which ended once
	// the order settled; it never had to poll.
	streams := eval[int](b, `performance.getEntriesByType("resource")
		.filter((e) => e.name.endsWith("/events")).length`)
	polls := eval[int](b, `performance.getEntriesByType("resource")
		.filter((e) => /\/v1\/orders\/[^/]+$/.test(e.name)).length`)
	if streams != 1 || polls != 0 {
		t.Errorf("event streams %d and polls %d, want one stream and no polls", streams, polls)
	}
}

// TestBrowserPollsWhenStreamUnavailable puts a proxy that cannot stream
// between the page and the service: the page falls back to reading the
// order every second and still reaches "We've emailed you."
func TestBrowserPollsWhenStreamUnavailable(t *testing.T) {
	chromiumPath(t)
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{queue: fastQueue})
	proxy := startFaultyProxy(t, s.url, proxyFaults{refuseEvents: true})
	b := startBrowser(t, proxy.URL)
	s.pause(queue.QueueEmail)
	b.openCheckout(s.keys[0])

	b.do("place order", chromedp.Click(chromedp.ID("place-order")))
	b.waitStatus(wordsOnItsWay)
	if err := s.app.Queue().Resume(context.Background(), queue.QueueEmail); err != nil {
		t.Fatal(err)
	}
	b.waitStatus(wordsEmailed)
	if proxy.Reads() == 0 {
		t.Errorf("the page never polled the order")
	}
}

// TestBrowserReloadResumesSameCheckout reloads the page while the order
// request is in flight, and again once it is answered: the page resumes the
// same checkout with the same key and shows the same order and words.
func TestBrowserReloadResumesSameCheckout(t *testing.T) {
	s, b := startBrowserService(t, serviceOptions{queue: fastQueue})
	s.pause(queue.QueueEmail) // holds the order in one state across reloads
	if err := s.provider.SetFaults(fakeprovider.Faults{LatencyMS: 1200}); err != nil {
		t.Fatal(err)
	}
	b.openCheckout(s.keys[0])

	b.do("place order", chromedp.Click(chromedp.ID("place-order")))
	b.waitStatus(wordsPlacing)
	b.screenshot("placing")
	b.do("reload while placing", chromedp.Reload())
	b.waitStatus(wordsOnItsWay)
	first := b.orderID()
	b.screenshot("resumed")

	b.do("reload again", chromedp.Reload())
	b.waitStatus(wordsOnItsWay)
	if got := b.orderID(); got != first || first == "" {
		t.Errorf("after reload the page shows order %q, want %q", got, first)
	}
	b.screenshot("reloaded")

	wantOrders(t, s, 1)
	if n := s.countKeys(); n != 1 {
		t.Errorf("idempotency keys used: %d, want 1", n)
	}
	wantOneCharge(t, s, first)
}

// TestBrowserQueuedOrderIsAccepted holds the breaker open under the queue
// policy: the order is accepted with its payment deferred, and the page says
// so, with no retry: the service charges it when the provider is back.
func TestBrowserQueuedOrderIsAccepted(t *testing.T) {
	s, b := startBrowserService(t, serviceOptions{queue: fastQueue})
	s.switchBreaker("provider", "open")
	b.openCheckout(s.keys[0])

	b.do("place order", chromedp.Click(chromedp.ID("place-order")))
	b.waitStatus(wordsAccepted)
	b.wantControls(false, false)
	b.screenshot("queued")
	wantOrders(t, s, 1)
}

// TestBrowserOpsShowsBreakersQueuesAndOrders places an order, then reads the
// operator's view: the provider's breaker, every queue, and the order from
// this browser; and holds the breaker open from there.
func TestBrowserOpsShowsBreakersQueuesAndOrders(t *testing.T) {
	s, b := startBrowserService(t, serviceOptions{queue: fastQueue})
	b.openCheckout(s.keys[0])
	b.do("place order", chromedp.Click(chromedp.ID("place-order")))
	b.waitStatus(wordsEmailed)
	id := b.orderID()

	b.do("open ops", chromedp.Navigate(s.url+"/ops"))
	b.waitFor("the provider's breaker", `document.getElementById("breakers").textContent
		.includes("provider")`)
	b.waitFor("the email queue", `document.getElementById("queues").textContent.includes("email")`)
	b.waitFor("the order", fmt.Sprintf(`document.getElementById("orders").textContent
		.includes(%q)`, id))
	if b.shown("faults-panel") {
		t.Errorf("the fault switches are shown without --demo")
	}

	b.do("hold the breaker open", chromedp.Click(chromedp.CSS(`#breakers button`)))
	b.waitFor("the breaker held open", `document.getElementById("breakers").textContent
		.includes("held open")`)
	if got := s.breakerState("provider"); got != "open" {
		t.Errorf("breaker %q after the switch, want open", got)
	}
	b.screenshot("ops")
}

// TestBrowserDemoSwitchesProviderFaults runs the service as serve --demo
// does: the pages take the demo key from /demo/config.json, the checkout
// works with nothing typed in, and the operator's view breaks the built-in
// provider through /demo/faults.
func TestBrowserDemoSwitchesProviderFaults(t *testing.T) {
	chromiumPath(t)
	d := startDemoService(t)
	b := startBrowser(t, d.url)

	b.do("open checkout", chromedp.Navigate(d.url+"/"))
	b.waitFor("the form enabled", `!document.getElementById("place-order").disabled`)
	b.do("place order", chromedp.Click(chromedp.ID("place-order")))
	b.waitConfirmed()

	b.do("open ops", chromedp.Navigate(d.url+"/ops"))
	b.waitFor("the fault switches",
		`document.querySelector('#faults-panel:not([hidden]) input[value="down"]') !== null`)
	b.do("switch the provider down", chromedp.Click(chromedp.CSS(`input[value="down"]`)),
		chromedp.Click(chromedp.CSS(`#faults-form button[type="submit"]`)))
	b.waitFor("the fault in force", `document.getElementById("faults-now").textContent === "down"`)
	b.screenshot("faults")

	resp, err := http.Get(d.app.ProviderURL() + "/_control/faults")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var f fakeprovider.Faults
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil || f.Mode != "down" {
		t.Errorf("provider faults %+v (%v), want mode down", f, err)
	}
}

// TestWebUIBesideAPI checks the UI's routes on a service without --demo:
// the pages are served with a strict CSP, the demo endpoints are absent, and
// unknown /v1 paths still answer with a problem.
func TestWebUIBesideAPI(t *testing.T) {
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{})
	for _, c := range []struct {
		path, wantType string
		status         int
	}{
		{"/", "text/html", 200},
		{"/ops", "text/html", 200},
		{"/static/writepath-client.js", "text/javascript", 200},
		{"/static/writepath-client.d.ts", "text/plain", 200},
		{"/demo/config.json", "application/problem+json", 404},
		{"/demo/faults", "application/problem+json", 404},
		{"/static/nothing.js", "application/problem+json", 404},
		{"/v1/nothing", "application/problem+json", 404},
	} {
		r := s.do("GET", c.path, "", nil, nil)
		if r.Status != c.status || !strings.HasPrefix(r.Header.Get("Content-Type"), c.wantType) {
			t.Errorf("GET %s: %d %s, want %d %s", c.path, r.Status,
				r.Header.Get("Content-Type"), c.status, c.wantType)
		}
		if c.status == 200 && !strings.Contains(r.Header.Get("Content-Security-Policy"),
			"default-src 'none'") {
			t.Errorf("GET %s: CSP %q", c.path, r.Header.Get("Content-Security-Policy"))
		}
	}
}
