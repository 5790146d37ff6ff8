package mail_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/writepath/writepath/internal/mail"
)

// confirmation is the message most tests send.
func confirmation() mail.Message {
	return mail.Message{
		ID:      "ord_123.confirmation@writepath.invalid",
		From:    "Writepath <shop@writepath.invalid>",
		To:      "Zoë Martin <zoe@example.com>",
		Subject: "Votre commande ord_123 est confirmée",
		Text:    "Bonjour Zoë,\n\nmerci pour votre commande.\n",
		Date:    time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

// parse reads a message as a mail client would and returns it with its
// decoded subject and body.
func parse(t *testing.T, data []byte) (msg *netmail.Message, subject, body string) {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	raw, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatalf("decode body: %v", err)
	}
	return msg, subject, string(raw)
}

func TestSendDeliversTheMessage(t *testing.T) {
	rec := &recorder{}
	s := &mail.SMTP{Addr: startServer(t, rec, nil), Timeout: 10 * time.Second}
	m := confirmation()

	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}

	msgs := rec.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.from != "shop@writepath.invalid" || got.to != "zoe@example.com" {
		t.Fatalf("envelope = %q -> %q, want shop@writepath.invalid -> zoe@example.com",
			got.from, got.to)
	}
	msg, subject, body := parse(t, got.data)
	if id := msg.Header.Get("Message-Id"); id != "<"+m.ID+">" {
		t.Fatalf("Message-ID = %q, want <%s>", id, m.ID)
	}
	to, err := msg.Header.AddressList("To")
	if err != nil || len(to) != 1 ||
		to[0].Name != "Zoë Martin" || to[0].Address != "zoe@example.com" {
		t.Fatalf("To = %v (%v), want Zoë Martin <zoe@example.com>", to, err)
	}
	from, err := msg.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "shop@writepath.invalid" {
		t.Fatalf("From = %v (%v), want shop@writepath.invalid", from, err)
	}
	if subject != m.Subject {
		t.Fatalf("subject = %q, want %q", subject, m.Subject)
	}
	if want := strings.ReplaceAll(m.Text, "\n", "\r\n"); body != want {
		t.Fatalf("body = %q, want %q", body, want)
	}
}

func TestSendReportsGreylistingAsTemporaryUntilAccepted(t *testing.T) {
	const refusals = 2
	rec := &recorder{refuseData: refusals}
	s := &mail.SMTP{Addr: startServer(t, rec, nil), Timeout: 10 * time.Second}

	// The test plays the job: it retries while the error is temporary.
	for attempt := 1; attempt <= refusals; attempt++ {
		err := s.Send(context.Background(), confirmation())
		var se *mail.SMTPError
		if !errors.As(err, &se) || se.Code != 451 || se.Enhanced != "4.7.1" {
			t.Fatalf("attempt %d: Send = %v, want a 451 4.7.1 *SMTPError", attempt, err)
		}
		if mail.IsPermanent(err) {
			t.Fatalf("attempt %d: IsPermanent(%v) = true, want false", attempt, err)
		}
	}
	if err := s.Send(context.Background(), confirmation()); err != nil {
		t.Fatalf("attempt %d: Send: %v", refusals+1, err)
	}
	if n := len(rec.messages()); n != 1 {
		t.Fatalf("server kept %d messages, want 1", n)
	}
}

func TestSendReportsRejectionAsPermanent(t *testing.T) {
	rec := &recorder{rejectRcpt: true}
	s := &mail.SMTP{Addr: startServer(t, rec, nil), Timeout: 10 * time.Second}

	err := s.Send(context.Background(), confirmation())

	var se *mail.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || !se.Permanent {
		t.Fatalf("Send = %v, want a permanent 550 *SMTPError", err)
	}
	if !mail.IsPermanent(err) {
		t.Fatalf("IsPermanent(%v) = false, want true", err)
	}
}

func TestSendGivesUpOnASilentServerWithinTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s := &mail.SMTP{Addr: startSilent(t, nil), Timeout: timeout}

	start := time.Now()
	err := s.Send(context.Background(), confirmation())
	elapsed := time.Since(start)

	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v, want context.DeadlineExceeded", err)
	}
	if mail.IsPermanent(err) {
		t.Fatalf("IsPermanent(%v) = true, want false", err)
	}
	if elapsed > timeout+2*time.Second {
		t.Fatalf("Send took %v with a %v timeout", elapsed, timeout)
	}
}

func TestSendStopsWhenTheContextIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The server cancels the sender's context once it holds the connection.
	s := &mail.SMTP{Addr: startSilent(t, cancel), Timeout: time.Minute}

	start := time.Now()
	err := s.Send(ctx, confirmation())
	elapsed := time.Since(start)

	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want context.Canceled", err)
	}
	if mail.IsPermanent(err) {
		t.Fatalf("IsPermanent(%v) = true, want false", err)
	}
	if elapsed > 5*time.Second {
		t.Fatalf("Send took %v after cancellation", elapsed)
	}
}

func TestSendRefusesHeaderInjectionBeforeConnecting(t *testing.T) {
	tests := []struct {
		name string
		edit func(*mail.Message)
	}{
		{"subject", func(m *mail.Message) { m.Subject = "Hello\r\nBcc: victim@example.com" }},
		{"subject LF", func(m *mail.Message) { m.Subject = "Hello\nBcc: victim@example.com" }},
		{"to", func(m *mail.Message) { m.To = "zoe@example.com\r\nBcc: victim@example.com" }},
		{"from", func(m *mail.Message) { m.From = "shop@writepath.invalid\nX-Evil: 1" }},
		{"id", func(m *mail.Message) { m.ID = "a@b>\r\nBcc: victim@example.com" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			s := &mail.SMTP{Addr: startServer(t, rec, nil), Timeout: 10 * time.Second}
			m := confirmation()
			tt.edit(&m)

			err := s.Send(context.Background(), m)

			if !errors.Is(err, mail.ErrInvalidMessage) || !mail.IsPermanent(err) {
				t.Fatalf("Send = %v, want permanent ErrInvalidMessage", err)
			}
			if n := rec.sessionCount(); n != 0 {
				t.Fatalf("Send opened %d sessions, want none", n)
			}
		})
	}
}

func TestSendUsesStartTLSForAuth(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	rec := &recorder{password: "s3cret"}
	s := &mail.SMTP{
		Addr:      startServer(t, rec, serverTLS),
		Timeout:   10 * time.Second,
		Username:  "writepath",
		Password:  "s3cret",
		TLSConfig: clientTLS,
	}

	if err := s.Send(context.Background(), confirmation()); err != nil {
		t.Fatalf("Send: %v", err)
	}

	msgs := rec.messages()
	if len(msgs) != 1 || !msgs[0].tls || msgs[0].user != "writepath" {
		t.Fatalf("server got %+v, want one message over TLS from user writepath", msgs)
	}
}

func TestSendAuthenticatesInPlainTextOnLoopback(t *testing.T) {
	rec := &recorder{password: "s3cret"}
	s := &mail.SMTP{
		Addr:     startServer(t, rec, nil),
		Timeout:  10 * time.Second,
		Username: "writepath",
		Password: "s3cret",
	}

	if err := s.Send(context.Background(), confirmation()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if msgs := rec.messages(); len(msgs) != 1 || msgs[0].user != "writepath" {
		t.Fatalf("server got %+v, want one message from user writepath", msgs)
	}
}

func TestSendRefusesPlainTextAuthBeyondLoopback(t *testing.T) {
	ip := nonLoopbackIP(t)
	rec := &recorder{password: "s3cret"}
	s := &mail.SMTP{
		Addr:     serveOn(t, net.JoinHostPort(ip, "0"), rec, nil),
		Timeout:  10 * time.Second,
		Username: "writepath",
		Password: "s3cret",
	}

	err := s.Send(context.Background(), confirmation())

	if !errors.Is(err, mail.ErrInsecureAuth) {
		t.Fatalf("Send = %v, want ErrInsecureAuth", err)
	}
	if mail.IsPermanent(err) {
		t.Fatalf("IsPermanent(%v) = true, want false", err)
	}
	if n := len(rec.messages()); n != 0 {
		t.Fatalf("server got %d messages, want none", n)
	}
}

// nonLoopbackIP returns an IPv4 address of this host that is not loopback,
// or skips the test.
func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("interface addresses: %v", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address")
	return ""
}

func TestIsPermanent(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("connection reset"), false},
		{context.DeadlineExceeded, false},
		{mail.ErrInsecureAuth, false},
		{mail.ErrInvalidMessage, true},
		{&mail.SMTPError{Code: 421, Permanent: false}, false},
		{&mail.SMTPError{Code: 554, Permanent: true}, true},
	}
	for _, tt := range tests {
		if got := mail.IsPermanent(tt.err); got != tt.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
