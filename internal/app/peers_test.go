package app_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// smtpServer is a real SMTP server for the tests: it records the messages
// it accepts, and refuses on demand.
type smtpServer struct {
	addr string

	mu        sync.Mutex
	messages  []string      // guarded by mu
	refuse    int           // temporary refusals left; guarded by mu
	permanent bool          // refuse every message for good; guarded by mu
	delay     time.Duration // before answering a message; guarded by mu
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	s := &smtpServer{}
	srv := smtp.NewServer(s)
	srv.Domain = "mx.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *smtpServer) set(refuse int, permanent bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse, s.permanent = refuse, permanent
}

func (s *smtpServer) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.messages...)
}

// NewSession implements smtp.Backend.
func (s *smtpServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s}, nil }

type smtpSession struct{ s *smtpServer }

func (x *smtpSession) Reset()                               {}
func (x *smtpSession) Logout() error                        { return nil }
func (x *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (x *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (x *smtpSession) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	delay := x.s.delay
	x.s.mu.Unlock()
	time.Sleep(delay)
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	switch {
	case x.s.permanent:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: "no such mailbox"}
	case x.s.refuse > 0:
		x.s.refuse--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
			Message: "try again later"}
	}
	x.s.messages = append(x.s.messages, string(body))
	return nil
}

// receiver is a webhook endpoint that verifies every delivery's signature
// with its own implementation of the Standard Webhooks scheme, written here
// from the specification and sharing no code with the service.
type receiver struct {
	t      *testing.T
	url    string
	secret string // set after registration

	mu        sync.Mutex
	failing   bool           // answer 503; guarded by mu
	requests  int            // guarded by mu
	delivered map[string]int // 2xx answers by webhook-id; guarded by mu
	badSigs   int            // guarded by mu
}

func startReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, delivered: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/hooks"
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if err := verifyStandardWebhook(rc.secret, r.Header, body); err != nil {
		rc.badSigs++
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if rc.failing {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	rc.delivered[r.Header.Get("webhook-id")]++
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) setFailing(v bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.failing = v
}

func (rc *receiver) stats() (requests int, delivered map[string]int, badSigs int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	d := map[string]int{}
	for k, v := range rc.delivered {
		d[k] = v
	}
	return rc.requests, d, rc.badSigs
}

// verifyStandardWebhook checks the webhook-signature header: HMAC-SHA256,
// keyed by the base64 secret after "whsec_", over "id.timestamp.body", any
// of the space-separated "v1,<base64>" entries matching.
func verifyStandardWebhook(secret string, h http.Header, body []byte) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook headers")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(sigs) {
		if v, s, ok := strings.Cut(sig, ","); ok && v == "v1" && hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("no signature matches")
}
