package mail_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/writepath/writepath/internal/mail"
)

func TestBytesEncodesANonASCIISubject(t *testing.T) {
	m := confirmation()
	m.Subject = "Commande confirmée — merci, Zoë ! 🎉"

	data, err := m.Bytes()
	if err != nil {
		t.Fatalf("Bytes: %v", err)
	}

	header, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	if !isASCII(header) {
		t.Fatalf("header is not ASCII:\n%s", header)
	}
	if _, subject, _ := parse(t, data); subject != m.Subject {
		t.Fatalf("subject = %q, want %q", subject, m.Subject)
	}
}

func TestBytesFoldsALongSubject(t *testing.T) {
	m := confirmation()
	m.Subject = strings.Repeat("Votre commande est confirmée et partira demain. ", 8)
	m.Subject = strings.TrimSpace(m.Subject)

	data, err := m.Bytes()
	if err != nil {
		t.Fatalf("Bytes: %v", err)
	}

	header, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(header), "\r\n") {
		if len(line) > 78 {
			t.Fatalf("header line of %d bytes: %q", len(line), line)
		}
	}
	if _, subject, _ := parse(t, data); subject != m.Subject {
		t.Fatalf("subject = %q, want %q", subject, m.Subject)
	}
}

func TestBytesBodyRoundTripsThroughQuotedPrintable(t *testing.T) {
	m := confirmation()
	long := strings.Repeat("Le colis contient 3 articles: 1 × théière, 2 × tasses. ", 10)
	m.Text = "Bonjour Zoë,\n\n" + long + "\n.\nFin, avec des espaces   \r\nÀ bientôt\n"

	data, err := m.Bytes()
	if err != nil {
		t.Fatalf("Bytes: %v", err)
	}

	if !isASCII(data) {
		t.Fatalf("message is not 7-bit")
	}
	for _, line := range strings.Split(string(data), "\r\n") {
		if len(line) > 78 || strings.ContainsAny(line, "\r\n") {
			t.Fatalf("bad line of %d bytes: %q", len(line), line)
		}
	}
	want := strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\r\n")
	if _, _, body := parse(t, data); body != want {
		t.Fatalf("body = %q, want %q", body, want)
	}
}

func TestBytesWritesTheHeaderFields(t *testing.T) {
	data, err := confirmation().Bytes()
	if err != nil {
		t.Fatalf("Bytes: %v", err)
	}

	msg, _, _ := parse(t, data)
	want := map[string]string{
		"Message-Id":                "<ord_123.confirmation@writepath.invalid>",
		"Date":                      "Sun, 01 Mar 2026 12:00:00 +0000",
		"Mime-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
	}
	for k, v := range want {
		if got := msg.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if n := len(msg.Header); n != 8 {
		t.Errorf("header has %d fields, want 8: %v", n, msg.Header)
	}
}

func TestBytesRefusesInvalidMessages(t *testing.T) {
	tests := []struct {
		name string
		edit func(*mail.Message)
	}{
		{"CR in subject", func(m *mail.Message) { m.Subject = "a\rb" }},
		{"LF in to", func(m *mail.Message) { m.To = "a@example.com\nCc: b@example.com" }},
		{"two recipients", func(m *mail.Message) { m.To = "a@example.com, b@example.com" }},
		{"bad from", func(m *mail.Message) { m.From = "not an address" }},
		{"empty to", func(m *mail.Message) { m.To = "" }},
		{"empty id", func(m *mail.Message) { m.ID = "" }},
		{"id with brackets", func(m *mail.Message) { m.ID = "<a@b>" }},
		{"id without at", func(m *mail.Message) { m.ID = "ord_123" }},
		{"id with space", func(m *mail.Message) { m.ID = "ord 123@b" }},
		{"id with empty atom", func(m *mail.Message) { m.ID = "ord..123@b" }},
		{"id too long", func(m *mail.Message) { m.ID = strings.Repeat("a", 200) + "@b" }},
		{"unfoldable subject", func(m *mail.Message) { m.Subject = strings.Repeat("x", 1000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := confirmation()
			tt.edit(&m)

			_, err := m.Bytes()

			if !errors.Is(err, mail.ErrInvalidMessage) || !mail.IsPermanent(err) {
				t.Fatalf("Bytes = %v, want permanent ErrInvalidMessage", err)
			}
		})
	}
}

// FuzzBytes checks that whatever the subject and body, Bytes either refuses
// the message or writes one that parses with exactly its eight fields and
// whose body decodes to the text.
func FuzzBytes(f *testing.F) {
	f.Add("Commande confirmée", "Bonjour,\nmerci.\n")
	f.Add("a\r\nBcc: x@example.com", "line\r\n.\r\n")
	f.Add(strings.Repeat("mot ", 40), strings.Repeat("é", 200))
	f.Add("=?utf-8?q?=0D=0A?=", "tab\there \n")
	f.Fuzz(func(t *testing.T, subject, text string) {
		m := confirmation()
		m.Subject, m.Text = subject, text

		data, err := m.Bytes()
		if err != nil {
			if !errors.Is(err, mail.ErrInvalidMessage) {
				t.Fatalf("Bytes = %v, want nil or ErrInvalidMessage", err)
			}
			return
		}

		if !isASCII(data) || bytes.Contains(bytes.ReplaceAll(data, []byte("\r\n"), nil),
			[]byte("\n")) {
			t.Fatalf("message is not 7-bit with CRLF line endings: %q", data)
		}
		msg, _, body := parse(t, data)
		if n := len(msg.Header); n != 8 {
			t.Fatalf("header has %d fields, want 8: %v", n, msg.Header)
		}
		want := strings.ReplaceAll(text, "\r\n", "\n")
		want = strings.ReplaceAll(strings.ReplaceAll(want, "\r", "\n"), "\n", "\r\n")
		if body != want {
			t.Fatalf("body = %q, want %q", body, want)
		}
		// Whitespace at the ends or at a fold may change, and an ASCII subject
		// that looks like an encoded word is decoded by readers: see Subject.
		simple := utf8.ValidString(subject) && !strings.ContainsAny(subject, " \t") &&
			!strings.Contains(subject, "=?")
		if _, got, _ := parse(t, data); simple && got != subject {
			t.Fatalf("subject = %q, want %q", got, subject)
		}
	})
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
