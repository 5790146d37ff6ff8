package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// DefaultTimeout bounds one SMTP exchange when SMTP.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Sender sends one message. Implementations report errors that IsPermanent
// classifies, so that the caller knows whether to retry.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SMTP is a Sender that hands each message to a mail server on a fresh
// connection. When the server offers STARTTLS, Send opens two: go-smtp can
// only start TLS on a connection that has not yet asked what the server
// offers. Its fields are read-only once Send is first called; it is then
// safe for concurrent use.
type SMTP struct {
	// Addr is the server's host and port, such as "smtp.example.com:587".
	// Required.
	Addr string
	// HelloName is the name given in EHLO. Zero means the address literal
	// of the local end of the connection, such as "[10.0.0.7]", which RFC
	// 5321 section 4.1.4 advises for a client without a meaningful domain
	// name, as in a container.
	HelloName string
	// Timeout bounds the whole exchange, from dialling to the server's
	// answer to the message. Zero means DefaultTimeout.
	Timeout time.Duration
	// Username and Password, when Username is set, authenticate with AUTH
	// PLAIN. They are sent only over TLS, or to a loopback address;
	// otherwise Send fails with ErrInsecureAuth.
	Username, Password string
	// TLSConfig configures STARTTLS, which Send uses whenever the server
	// offers it. Nil means the system roots; a ServerName left empty is
	// the host of Addr.
	TLSConfig *tls.Config
}

// Send delivers m to its recipient through the server. It checks m before
// connecting, and the whole exchange ends when Timeout passes or ctx ends.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := m.Bytes()
	if err != nil {
		return fmt.Errorf("smtp send: %w", err)
	}
	from, to, _ := m.addresses() // Bytes checked them
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()

	c, err := s.connect(ctx)
	if err == nil {
		err = transact(c, from.Address, to.Address, msg)
		c.Close()
	}
	if err != nil && ctx.Err() != nil {
		// Report the deadline or the cancellation, which explains the I/O
		// error below it.
		return fmt.Errorf("smtp send: %w: %w", ctx.Err(), err)
	}
	if err != nil {
		return fmt.Errorf("smtp send: %w", err)
	}
	return nil
}

func (s *SMTP) timeout() time.Duration {
	if s.Timeout <= 0 {
		return DefaultTimeout
	}
	return s.Timeout
}

// connect returns a client that has said hello, is on TLS if the server
// offers it, and has authenticated if credentials are set.
//
// go-smtp upgrades only a connection that has not said hello, on purpose:
// it wants STARTTLS demanded, not negotiated. To use STARTTLS when offered,
// connect asks on a first connection and, if the server offers it, opens a
// second one that starts with STARTTLS.
func (s *SMTP) connect(ctx context.Context) (*smtp.Client, error) {
	conn, err := dial(ctx, s.Addr)
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	if err := c.Hello(s.helloName(conn)); err != nil {
		c.Close()
		return nil, fmt.Errorf("hello: %w", fromSMTP(err))
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		// The answer to QUIT changes nothing: this connection is done.
		_ = c.Quit()
		c.Close()
		return s.connectTLS(ctx)
	}

	if s.Username != "" && !isLoopback(conn.RemoteAddr()) {
		c.Close()
		return nil, ErrInsecureAuth
	}
	if err := s.auth(c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// connectTLS opens a connection that starts with STARTTLS, says hello again
// over TLS, and authenticates.
func (s *SMTP) connectTLS(ctx context.Context) (*smtp.Client, error) {
	conn, err := dial(ctx, s.Addr)
	if err != nil {
		return nil, err
	}
	c, err := smtp.NewClientStartTLS(conn, s.tlsConfig())
	if err != nil {
		return nil, fmt.Errorf("starttls: %w", fromSMTP(err)) // conn is closed
	}

	// The TLS handshake happens here, on the first write.
	if err := c.Hello(s.helloName(conn)); err != nil {
		c.Close()
		return nil, fmt.Errorf("starttls: %w", fromSMTP(err))
	}
	if err := s.auth(c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// auth authenticates with AUTH PLAIN if credentials are set. The caller has
// checked that the connection is fit for them.
func (s *SMTP) auth(c *smtp.Client) error {
	if s.Username == "" {
		return nil
	}
	if !c.SupportsAuth(sasl.Plain) {
		return errors.New("auth: server does not offer AUTH PLAIN")
	}
	if err := c.Auth(sasl.NewPlainClient("", s.Username, s.Password)); err != nil {
		return fmt.Errorf("auth: %w", fromSMTP(err))
	}
	return nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	cfg := &tls.Config{}
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(s.Addr)
	}
	return cfg
}

func (s *SMTP) helloName(conn net.Conn) string {
	if s.HelloName != "" {
		return s.HelloName
	}
	return addressLiteral(conn.LocalAddr())
}

// transact sends one message on a ready client. Once the server accepts the
// data the message is delivered, so the answer to QUIT does not matter.
func transact(c *smtp.Client, from, to string, msg []byte) error {
	var opts *smtp.MailOptions
	if !isASCII(from) || !isASCII(to) {
		opts = &smtp.MailOptions{UTF8: true}
	}
	if err := c.Mail(from, opts); err != nil {
		return fmt.Errorf("mail from: %w", fromSMTP(err))
	}
	if err := c.Rcpt(to, nil); err != nil {
		return fmt.Errorf("rcpt to: %w", fromSMTP(err))
	}

	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", fromSMTP(err))
	}
	if _, err := bytes.NewReader(msg).WriteTo(w); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data end: %w", fromSMTP(err))
	}
	_ = c.Quit()
	return nil
}

// dial connects to addr and binds the connection to ctx: see boundConn.
func dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	// Send's context always has a deadline. When it passes, or the caller
	// cancels, a deadline in the past ends any read or write in progress;
	// ctx.Err is set by then, so Send can say why the I/O failed.
	stop := context.AfterFunc(ctx, func() {
		conn.SetDeadline(time.Unix(1, 0))
	})
	return &boundConn{Conn: conn, stop: stop}, nil
}

// boundConn is a connection whose only deadline is its context's: Timeout
// bounds the whole exchange, not each command. go-smtp sets a deadline
// around every command and clears it afterwards, which would undo the one
// the context sets, so boundConn ignores deadlines set from outside.
type boundConn struct {
	net.Conn
	stop func() bool
}

// Close stops watching the context and closes the connection.
func (c *boundConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// SetDeadline does nothing; see boundConn.
func (c *boundConn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline does nothing; see boundConn.
func (c *boundConn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline does nothing; see boundConn.
func (c *boundConn) SetWriteDeadline(time.Time) error { return nil }

// addressLiteral formats the IP of addr as an RFC 5321 address literal.
func addressLiteral(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "localhost"
	}
	if ip4 := tcp.IP.To4(); ip4 != nil {
		return "[" + ip4.String() + "]"
	}
	return "[IPv6:" + tcp.IP.String() + "]"
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
