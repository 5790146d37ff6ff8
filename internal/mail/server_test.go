package mail_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// received is one message the test server accepted.
type received struct {
	from, to string
	data     []byte
	tls      bool   // whether it came over TLS
	user     string // who authenticated, if anyone
}

// recorder is a go-smtp Backend that keeps what it accepts and refuses what
// the test asks it to.
type recorder struct {
	mu         sync.Mutex
	sessions   int        // guarded by mu
	msgs       []received // guarded by mu
	refuseData int        // DATA commands still to answer 451; guarded by mu
	rejectRcpt bool       // answer 550 to every RCPT; set before serving
	password   string     // the one AUTH PLAIN accepts; set before serving
}

func (r *recorder) NewSession(c *smtp.Conn) (smtp.Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions++
	return &session{rec: r, conn: c}, nil
}

func (r *recorder) messages() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.msgs...)
}

func (r *recorder) sessionCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions
}

// session is one SMTP connection to the recorder.
type session struct {
	rec  *recorder
	conn *smtp.Conn
	user string
	cur  received
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if pass != s.rec.password || s.rec.password == "" {
			return errors.New("bad credentials")
		}
		s.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.rec.rejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: "no such user"}
	}
	s.cur.to = to
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	if s.rec.refuseData > 0 {
		s.rec.refuseData--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1},
			Message: "greylisted, try again later"}
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.cur.data, s.cur.tls, s.cur.user = data, isTLS, s.user
	s.rec.msgs = append(s.rec.msgs, s.cur)
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

// startServer serves rec on 127.0.0.1 until the test ends and returns its
// address. With a TLS config the server offers STARTTLS and allows AUTH only
// over TLS; without one it allows AUTH in plain text.
func startServer(t *testing.T, rec *recorder, cfg *tls.Config) string {
	t.Helper()
	return serveOn(t, "127.0.0.1:0", rec, cfg)
}

func serveOn(t *testing.T, addr string, rec *recorder, cfg *tls.Config) string {
	t.Helper()
	srv := smtp.NewServer(rec)
	srv.Domain = "mx.test"
	srv.TLSConfig = cfg
	srv.AllowInsecureAuth = cfg == nil
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		// Close misses the listener if Serve has not registered it yet.
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// startSilent accepts connections on 127.0.0.1 and never writes a byte. It
// calls onAccept, if set, for each connection.
func startSilent(t *testing.T, onAccept func()) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn // guarded by mu
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if onAccept != nil {
				onAccept()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// selfSigned returns a server config with a fresh certificate for
// 127.0.0.1, and a client config that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der},
		PrivateKey: key}}}
	return server, &tls.Config{RootCAs: roots}
}
