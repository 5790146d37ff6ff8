package mail

import (
	"bytes"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// MaxIDLength is the longest Message.ID accepted, in bytes.
const MaxIDLength = 200

const (
	// foldAt is the width RFC 5322 section 2.1.1 recommends for header
	// lines; maxLine is the hard limit, without the CRLF.
	foldAt  = 78
	maxLine = 998
)

// Message is one email with a single recipient.
type Message struct {
	// ID is the Message-ID without angle brackets, such as
	// "ord_123.confirmation@writepath.invalid". The caller derives it from
	// the order so that every attempt to send the email carries the same
	// one. Required: two dot-atoms joined by "@", at most MaxIDLength bytes.
	ID string
	// From is the sender, such as "Shop <shop@example.com>". Required.
	From string
	// To is the recipient, one address in the same form. Required.
	To string
	// Subject is the subject line, in UTF-8. Bytes encodes it (RFC 2047)
	// only if it holds non-ASCII or control characters, so an ASCII subject
	// that itself looks like an encoded word, "=?...?=", reads decoded.
	Subject string
	// Text is the plain-text body, in UTF-8. LF, CRLF and a lone CR all
	// end a line.
	Text string
	// Date is when the message was written. Zero means the time of Bytes;
	// set it, from the order, to make every attempt send the same bytes.
	Date time.Time
}

// Bytes returns m in the RFC 5322 format, with CRLF line endings and the
// body in quoted-printable. It reports ErrInvalidMessage for a header with a
// line break, an unparsable address or a malformed ID.
func (m Message) Bytes() ([]byte, error) {
	var b bytes.Buffer
	if err := m.writeHeader(&b); err != nil {
		return nil, err
	}
	if err := writeBody(&b, m.Text); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeHeader checks the header inputs of m and writes the header section,
// the blank line included.
func (m Message) writeHeader(b *bytes.Buffer) error {
	from, to, err := m.addresses()
	if err != nil {
		return err
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}

	fields := [][2]string{
		{"Message-ID", "<" + m.ID + ">"},
		{"Date", date.Format(time.RFC1123Z)},
		{"From", from.String()},
		{"To", to.String()},
		{"Subject", mime.QEncoding.Encode("utf-8", m.Subject)},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
	}
	for _, f := range fields {
		if err := writeField(b, f[0], f[1]); err != nil {
			return err
		}
	}
	b.WriteString("\r\n")
	return nil
}

// writeBody writes text in quoted-printable, which keeps lines under 77
// columns and the message 7-bit whatever the text.
func writeBody(b *bytes.Buffer, text string) error {
	// The writer turns each LF into CRLF. It is given LF alone because it
	// can lose the LF of a CR, encoded byte, LF sequence.
	qp := quotedprintable.NewWriter(b)
	if _, err := lineEndings.WriteString(qp, text); err != nil {
		return fmt.Errorf("encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return fmt.Errorf("encode body: %w", err)
	}
	return nil
}

// lineEndings turns CRLF and lone CR into LF.
var lineEndings = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// addresses checks every header input of m and parses its two addresses.
func (m Message) addresses() (from, to *mail.Address, err error) {
	for _, f := range [][2]string{
		{"id", m.ID}, {"from", m.From}, {"to", m.To}, {"subject", m.Subject},
	} {
		if strings.ContainsAny(f[1], "\r\n") {
			return nil, nil, fmt.Errorf("%w: %s contains a line break", ErrInvalidMessage, f[0])
		}
	}
	if err := checkID(m.ID); err != nil {
		return nil, nil, err
	}
	if from, err = parseAddress("from", m.From); err != nil {
		return nil, nil, err
	}
	if to, err = parseAddress("to", m.To); err != nil {
		return nil, nil, err
	}
	return from, to, nil
}

// parseAddress parses one address, which the field name labels in errors.
func parseAddress(field, s string) (*mail.Address, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidMessage, field, err)
	}
	return a, nil
}

// checkID reports whether id is a msg-id of RFC 5322 section 3.6.4 without
// its brackets, narrowed to dot-atoms on both sides of the "@".
func checkID(id string) error {
	if len(id) > MaxIDLength {
		return fmt.Errorf("%w: id longer than %d bytes", ErrInvalidMessage, MaxIDLength)
	}
	left, right, ok := strings.Cut(id, "@")
	if !ok || !isDotAtom(left) || !isDotAtom(right) {
		return fmt.Errorf("%w: id %q is not of the form left@right", ErrInvalidMessage, id)
	}
	return nil
}

// isDotAtom reports whether s is atext runs joined by single dots.
func isDotAtom(s string) bool {
	if s == "" {
		return false
	}
	for run := range strings.SplitSeq(s, ".") {
		if run == "" || strings.IndexFunc(run, func(r rune) bool { return !isAtext(r) }) >= 0 {
			return false
		}
	}
	return true
}

// isAtext reports whether r may appear in an atom (RFC 5322 section 3.2.3).
func isAtext(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

// writeField writes one header field, folded at spaces near foldAt columns.
// A word too long to fold stays whole, up to the hard limit of maxLine.
func writeField(b *bytes.Buffer, name, value string) error {
	line := len(name) + 1
	b.WriteString(name + ":")
	for word := range strings.SplitSeq(value, " ") {
		// Fold only before a word, so that no line is all whitespace; even
		// before the first, so that a 75-byte encoded word fits.
		if word != "" && line+1+len(word) > foldAt {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteString(" " + word)
		line += 1 + len(word)
		if line > maxLine {
			return fmt.Errorf("%w: %s has a line over %d bytes", ErrInvalidMessage, name, maxLine)
		}
	}
	b.WriteString("\r\n")
	return nil
}
