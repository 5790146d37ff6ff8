package fakeprovider

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Log attribute keys, so that every record spells them the same way.
const (
	logKeyPaymentID   = "payment_id"
	logKeyOrderID     = "order_id"
	logKeyStatus      = "status"
	logKeyAmount      = "amount"
	logKeyCurrency    = "currency"
	logKeyDeclineCode = "decline_code"
	logKeyMode        = "mode"
	logKeyLatencyMS   = "latency_ms"
	logKeyErrorRate   = "error_rate"
	logKeyMethod      = "method"
	logKeyPath        = "path"
)

// Options configure a Server. The zero value is ready to use.
type Options struct {
	// Now returns the current time, stamped on each payment when it is
	// created. Nil means time.Now.
	Now func() time.Time

	// Rand draws payment ids and decides which requests fail under the error
	// fault. The server only uses it while holding its own lock, so it needs
	// no locking of its own. Nil means a generator seeded at random; pass a
	// seeded one for reproducible ids and failures.
	Rand *rand.Rand

	// Logger receives a record for each payment and each change of faults,
	// never an idempotency key. Nil means records are discarded.
	Logger *slog.Logger
}

// Server is the fake payment provider. It implements http.Handler; the zero
// value is not usable, create one with New. All its methods are safe for
// concurrent use.
type Server struct {
	now func() time.Time
	log *slog.Logger
	mux *http.ServeMux

	// closed is closed by Close, to release handlers held by the hang fault
	// or waiting out latency.
	closed    chan struct{}
	closeOnce sync.Once

	// mu guards the fields below. It is held only for short in-memory steps,
	// never while waiting for a key or for time to pass; a handler that needs
	// a key's lock takes it first and mu second.
	mu       sync.Mutex
	rand     *rand.Rand
	faults   Faults
	payments []*payment          // in creation order, for the ledger and lists
	byID     map[string]*payment // payment id to payment
	keys     map[string]*keyEntry
}

// New returns a Server with no payments and no faults.
func New(opts Options) *Server {
	s := &Server{
		now:    opts.Now,
		log:    opts.Logger,
		rand:   opts.Rand,
		closed: make(chan struct{}),
		faults: Faults{Mode: ModeNormal},
		byID:   make(map[string]*payment),
		keys:   make(map[string]*keyEntry),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.rand == nil {
		s.rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}

	s.mux = http.NewServeMux()
	s.routes()
	return s
}

// routes registers every endpoint. Only the /v1 routes go through the fault
// gate: the control routes must keep working while the provider is "broken".
func (s *Server) routes() {
	s.mux.Handle("POST /v1/payment_intents", s.withFaults(http.HandlerFunc(s.handleCreate)))
	s.mux.Handle("GET /v1/payment_intents", s.withFaults(http.HandlerFunc(s.handleList)))
	s.mux.Handle("GET /v1/payment_intents/{id}", s.withFaults(http.HandlerFunc(s.handleGet)))

	s.mux.HandleFunc("GET /_control/faults", s.handleGetFaults)
	s.mux.HandleFunc("PUT /_control/faults", s.handlePutFaults)
	s.mux.HandleFunc("GET /_control/ledger", s.handleLedger)
}

// ServeHTTP answers one request of the provider's API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Close releases every handler blocked by the hang fault or by latency_ms;
// hung requests then answer 503 without executing. Later requests are served
// as usual, except that hang answers 503 at once and latency no longer waits.
// Call Close before shutting down the http.Server that serves s, or the
// shutdown waits for hung requests forever. Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
}
