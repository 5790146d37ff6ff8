package webhook_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/writepath/writepath/internal/webhook"
)

// receiver is a webhook endpoint for the tests. It checks each delivery's
// signature with the test-local reference verifier and with Verify, and
// records what it got.
type receiver struct {
	t      *testing.T
	secret string
	answer http.HandlerFunc // nil: 204

	mu         sync.Mutex
	ids        []string // guarded by mu
	timestamps []string // guarded by mu
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("receiver: read body: %v", err)
	}
	if !referenceVerify(rc.secret, r.Header, body) {
		rc.t.Errorf("receiver: reference verifier refused %v", r.Header)
	}
	if err := webhook.Verify(rc.secret, r.Header, body, time.Now()); err != nil {
		rc.t.Errorf("receiver: Verify: %v", err)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		rc.t.Errorf("receiver: Content-Type = %q", got)
	}

	rc.mu.Lock()
	rc.ids = append(rc.ids, r.Header.Get("webhook-id"))
	rc.timestamps = append(rc.timestamps, r.Header.Get("webhook-timestamp"))
	rc.mu.Unlock()

	if rc.answer != nil {
		rc.answer(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) deliveries() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.ids)
}

// setup starts a receiver on 127.0.0.1 and returns it with a delivery to it.
func setup(t *testing.T, answer http.HandlerFunc) (*receiver, *httptest.Server, webhook.Delivery) {
	t.Helper()
	rc := &receiver{t: t, secret: webhook.NewSecret(), answer: answer}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	d := webhook.Delivery{
		URL:       srv.URL + "/hooks",
		Secret:    rc.secret,
		MessageID: "msg_2xKqR8w1",
		Timestamp: time.Now(),
		Body:      []byte(`{"type":"order.completed","data":{"id":"ord_1"}}`),
	}
	return rc, srv, d
}

func privateSender() *webhook.Sender {
	return webhook.NewSender(webhook.Guard{AllowPrivate: true})
}

func TestSendRefusesLoopbackAtDialTime(t *testing.T) {
	rc, _, d := setup(t, nil)

	res, err := webhook.NewSender(webhook.Guard{}).Send(context.Background(), d)
	if !errors.Is(err, webhook.ErrPrivateAddress) {
		t.Fatalf("Send = %v, want ErrPrivateAddress", err)
	}
	if got := rc.deliveries(); got != 0 {
		t.Fatalf("receiver got %d deliveries, want 0", got)
	}
	if res.Status != 0 {
		t.Fatalf("Result.Status = %d, want 0", res.Status)
	}
	if webhook.IsRetryable(err) || webhook.IsDependencyFailure(err) {
		t.Fatalf("refusal is retryable or a dependency failure: %v", err)
	}
}

func TestZeroSenderRefusesLoopback(t *testing.T) {
	_, _, d := setup(t, nil)

	_, err := (&webhook.Sender{}).Send(context.Background(), d)
	if !errors.Is(err, webhook.ErrPrivateAddress) {
		t.Fatalf("Send = %v, want ErrPrivateAddress", err)
	}
}

// TestSendRefusesRebindingAtDialTime plays DNS rebinding: the name resolves
// to a public address when the endpoint is registered and to 127.0.0.1 when
// the webhook is delivered.
func TestSendRefusesRebindingAtDialTime(t *testing.T) {
	rc, srv, d := setup(t, nil)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	dns := newFakeDNS(map[string][]string{"rebind.test": {"93.184.215.14"}})
	g := webhook.Guard{Resolver: dns.resolver()}
	d.URL = "http://rebind.test:" + port + "/hooks"

	if err := g.CheckURL(context.Background(), d.URL); err != nil {
		t.Fatalf("CheckURL at registration: %v", err)
	}
	dns.set("rebind.test", "127.0.0.1")

	_, err := webhook.NewSender(g).Send(context.Background(), d)
	if !errors.Is(err, webhook.ErrPrivateAddress) {
		t.Fatalf("Send = %v, want ErrPrivateAddress", err)
	}
	if got := rc.deliveries(); got != 0 {
		t.Fatalf("receiver got %d deliveries, want 0", got)
	}

	// The same name is delivered when private addresses are allowed, which
	// shows that the dialer resolved it with the Guard's resolver.
	g.AllowPrivate = true
	if _, err := webhook.NewSender(g).Send(context.Background(), d); err != nil {
		t.Fatalf("Send with AllowPrivate: %v", err)
	}
}

func TestSendDeliversSignedWithAllowPrivate(t *testing.T) {
	answer := func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "thanks")
	}
	rc, _, d := setup(t, answer)

	res, err := privateSender().Send(context.Background(), d)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.Status != http.StatusOK {
		t.Fatalf("Result.Status = %d, want 200", res.Status)
	}
	if res.ResponseSnippet != "thanks" {
		t.Fatalf("Result.ResponseSnippet = %q, want %q", res.ResponseSnippet, "thanks")
	}
	if res.Took <= 0 {
		t.Fatalf("Result.Took = %s, want > 0", res.Took)
	}
	if got := rc.deliveries(); got != 1 {
		t.Fatalf("receiver got %d deliveries, want 1", got)
	}
}

func TestRetriesKeepIDAndSignEachAttemptsTime(t *testing.T) {
	rc, _, d := setup(t, nil)
	s := privateSender()

	first := time.Now().Add(-2 * time.Minute)
	for _, ts := range []time.Time{first, first.Add(90 * time.Second)} {
		d.Timestamp = ts
		if _, err := s.Send(context.Background(), d); err != nil {
			t.Fatalf("Send at %s: %v", ts, err)
		}
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.ids[0] != d.MessageID || rc.ids[1] != d.MessageID {
		t.Fatalf("webhook-id = %q, want %q on both attempts", rc.ids, d.MessageID)
	}
	if rc.timestamps[0] == rc.timestamps[1] {
		t.Fatalf("both attempts carry timestamp %s", rc.timestamps[0])
	}
}

func TestSendZeroTimestampMeansNow(t *testing.T) {
	rc, _, d := setup(t, nil)
	d.Timestamp = time.Time{}

	if _, err := privateSender().Send(context.Background(), d); err != nil {
		t.Fatalf("Send: %v", err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if got := rc.timestamps[0]; got == "" || strings.HasPrefix(got, "-") {
		t.Fatalf("webhook-timestamp = %q, want now", got)
	}
}

func TestSendNon2xxIsStatusError(t *testing.T) {
	tests := []struct {
		status                int
		retryable, dependency bool
		gone                  bool
		retryAfter            string
		wantRetryAfterAtLeast time.Duration
	}{
		{status: 500, retryable: true, dependency: true},
		{status: 503, retryable: true, dependency: true, retryAfter: "120",
			wantRetryAfterAtLeast: 2 * time.Minute},
		{status: 400, retryable: true},
		{status: 404, retryable: true},
		{status: 429, retryable: true, retryAfter: "30", wantRetryAfterAtLeast: 30 * time.Second},
		{status: 410, gone: true},
		{status: 301, retryable: true},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			answer := func(w http.ResponseWriter, _ *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, strings.Repeat("x", 2000))
			}
			_, _, d := setup(t, answer)

			res, err := privateSender().Send(context.Background(), d)
			var se *webhook.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("Send = %v, want a *StatusError", err)
			}
			if se.Code != tt.status || res.Status != tt.status {
				t.Fatalf("Code %d, Result.Status %d, want %d", se.Code, res.Status, tt.status)
			}
			if got := len(res.ResponseSnippet); got != webhook.SnippetBytes {
				t.Fatalf("snippet has %d bytes, want %d", got, webhook.SnippetBytes)
			}
			if got := se.Retryable(); got != tt.retryable {
				t.Fatalf("Retryable() = %v, want %v", got, tt.retryable)
			}
			if got := webhook.IsRetryable(err); got != tt.retryable {
				t.Fatalf("IsRetryable = %v, want %v", got, tt.retryable)
			}
			if got := webhook.IsDependencyFailure(err); got != tt.dependency {
				t.Fatalf("IsDependencyFailure = %v, want %v", got, tt.dependency)
			}
			if got := errors.Is(err, webhook.ErrGone); got != tt.gone {
				t.Fatalf("errors.Is(err, ErrGone) = %v, want %v", got, tt.gone)
			}
			if se.RetryAfter < tt.wantRetryAfterAtLeast {
				t.Fatalf("RetryAfter = %s, want at least %s", se.RetryAfter, tt.wantRetryAfterAtLeast)
			}
		})
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	var hits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/hooks", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, _, d := setup(t, nil)
	d.URL = srv.URL + "/hooks"

	_, err := privateSender().Send(context.Background(), d)
	var se *webhook.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusFound {
		t.Fatalf("Send = %v, want a 302 *StatusError", err)
	}
	srv.Close()
	if got := hits.Load(); got != 0 {
		t.Fatalf("the redirect was followed %d times", got)
	}
}

func TestSendSlowReceiverTimesOut(t *testing.T) {
	answer := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	_, _, d := setup(t, answer)
	s := privateSender()
	s.Timeout = 100 * time.Millisecond

	start := time.Now()
	res, err := s.Send(context.Background(), d)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v, want a deadline error", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Send took %s with a 100ms timeout", took)
	}
	if !strings.Contains(err.Error(), "no answer within 100ms") {
		t.Fatalf("error %q does not say the attempt timed out", err)
	}
	if !webhook.IsDependencyFailure(err) || !webhook.IsRetryable(err) {
		t.Fatalf("timeout is not a retryable dependency failure: %v", err)
	}
	if res.Status != 0 {
		t.Fatalf("Result.Status = %d, want 0", res.Status)
	}
}

func TestSendConnectionRefusedIsDependencyFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, _, d := setup(t, nil)
	d.URL = "http://" + addr + "/hooks?token=s3cr3t"

	_, err = privateSender().Send(context.Background(), d)
	if err == nil {
		t.Fatalf("Send to a closed port succeeded")
	}
	if !webhook.IsDependencyFailure(err) || !webhook.IsRetryable(err) {
		t.Fatalf("connection refused is not a retryable dependency failure: %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error %q quotes the URL's token", err)
	}
}

func TestSendCallerCancellationIsNotDependencyFailure(t *testing.T) {
	answer := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	_, _, d := setup(t, answer)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)

	_, err := privateSender().Send(ctx, d)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want context.Canceled", err)
	}
	if webhook.IsDependencyFailure(err) {
		t.Fatalf("the caller's cancellation counts as a dependency failure: %v", err)
	}
	if !webhook.IsRetryable(err) {
		t.Fatalf("a cancelled attempt is not retryable: %v", err)
	}
}

func TestSendRefusesInvalidDeliveriesWithoutSending(t *testing.T) {
	rc, srv, good := setup(t, nil)
	tests := []struct {
		name string
		edit func(*webhook.Delivery)
		want error
	}{
		{"ftp url", func(d *webhook.Delivery) { d.URL = "ftp://127.0.0.1/" }, webhook.ErrInvalidURL},
		{"userinfo", func(d *webhook.Delivery) {
			d.URL = strings.Replace(srv.URL, "http://", "http://u:p@", 1)
		}, webhook.ErrInvalidURL},
		{"bad secret", func(d *webhook.Delivery) { d.Secret = "hunter2" }, webhook.ErrSecret},
		{"dot in id", func(d *webhook.Delivery) { d.MessageID = "msg.1" }, webhook.ErrMessageID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			tt.edit(&d)
			_, err := privateSender().Send(context.Background(), d)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Send = %v, want %v", err, tt.want)
			}
			if webhook.IsRetryable(err) || webhook.IsDependencyFailure(err) {
				t.Fatalf("invalid delivery is retryable or a dependency failure: %v", err)
			}
		})
	}
	if got := rc.deliveries(); got != 0 {
		t.Fatalf("receiver got %d deliveries, want 0", got)
	}
}

func TestSendSetsUserAgent(t *testing.T) {
	var ua atomic.Value
	answer := func(w http.ResponseWriter, r *http.Request) { ua.Store(r.Header.Get("User-Agent")) }
	_, _, d := setup(t, answer)
	s := privateSender()

	if _, err := s.Send(context.Background(), d); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := ua.Load(); got != webhook.DefaultUserAgent {
		t.Fatalf("User-Agent = %q, want %q", got, webhook.DefaultUserAgent)
	}
	s.UserAgent = "writepath-test/2"
	if _, err := s.Send(context.Background(), d); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := ua.Load(); got != "writepath-test/2" {
		t.Fatalf("User-Agent = %q, want %q", got, "writepath-test/2")
	}
}

func TestIsDependencyFailureAndIsRetryableOfNil(t *testing.T) {
	if webhook.IsDependencyFailure(nil) || webhook.IsRetryable(nil) {
		t.Fatalf("nil is a dependency failure or retryable")
	}
}
