package mail

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/emersion/go-smtp"
)

var (
	// ErrInvalidMessage means a Message cannot be sent as it stands, such as
	// a header with a line break or an unparsable address. It is permanent.
	ErrInvalidMessage = errors.New("mail: invalid message")

	// ErrInsecureAuth means SMTP credentials are set but the server offered
	// no STARTTLS, and the server is not on a loopback address, so sending
	// them would expose them. It is temporary: it comes from the server's
	// configuration, or from someone on the path stripping STARTTLS, and a
	// later attempt may find TLS again.
	ErrInsecureAuth = errors.New("mail: refusing to authenticate without TLS")
)

// SMTPError is a failure answer from an SMTP server.
type SMTPError struct {
	// Code is the three-digit reply code, such as 451 or 550.
	Code int
	// Enhanced is the enhanced status code (RFC 3463), such as "5.1.1";
	// empty if the server sent none.
	Enhanced string
	// Message is the server's text, for operators.
	Message string
	// Permanent is true for a 5xx reply: the server will refuse the same
	// message again. A 4xx reply, such as greylisting or a full queue, is
	// temporary.
	Permanent bool
}

// Error returns the codes and the server's text. Send wraps it with the
// command that failed.
func (e *SMTPError) Error() string {
	s := "server answered " + strconv.Itoa(e.Code)
	if e.Enhanced != "" {
		s += " " + e.Enhanced
	}
	return s + ": " + e.Message
}

// IsPermanent reports whether err means that sending the same message again
// would fail again, so that the caller gives up instead of retrying. Any
// other error, including nil, is not permanent.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrInvalidMessage) {
		return true
	}
	var se *SMTPError
	return errors.As(err, &se) && se.Permanent
}

// fromSMTP turns go-smtp's answer errors into *SMTPError and leaves other
// errors, such as network failures, as they are.
func fromSMTP(err error) error {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return err
	}
	e := &SMTPError{
		Code:      se.Code,
		Message:   se.Message,
		Permanent: se.Code >= 500 && se.Code < 600,
	}
	if c := se.EnhancedCode; c[0] > 0 {
		e.Enhanced = fmt.Sprintf("%d.%d.%d", c[0], c[1], c[2])
	}
	return e
}
