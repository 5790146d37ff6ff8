package fakeprovider

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Test tokens, the payment methods the provider knows.
const (
	// TokenVisa is a card that is always charged.
	TokenVisa = "pm_card_visa"
	// TokenDeclined is a card that is always declined with generic_decline.
	TokenDeclined = "pm_card_chargeDeclined"
	// TokenInsufficientFunds is a card that is always declined with
	// insufficient_funds.
	TokenInsufficientFunds = "pm_card_chargeDeclinedInsufficientFunds"
)

// Payment statuses, as the API and the ledger report them.
const (
	// StatusSucceeded is a payment that was charged.
	StatusSucceeded = "succeeded"
	// StatusDeclined is a payment the card issuer refused; nothing was
	// charged.
	StatusDeclined = "declined"
)

// MaxAmount is the largest amount a payment may have, in minor units.
const MaxAmount = 99_999_999

// MaxIdempotencyKeyLength is the longest idempotency key accepted, in bytes.
const MaxIdempotencyKeyLength = 255

// outcome is what charging a test token does.
type outcome struct {
	status      string
	declineCode string
	message     string
}

// outcomes maps each known test token to its outcome.
var outcomes = map[string]outcome{
	TokenVisa:              {status: StatusSucceeded},
	TokenDeclined:          {StatusDeclined, "generic_decline", "The card was declined."},
	TokenInsufficientFunds: {StatusDeclined, "insufficient_funds", "The card lacks the funds."},
}

// createParams are the parameters of a create. A retry with the same key must
// carry equal ones.
type createParams struct {
	Amount        int64             `json:"amount"`
	Currency      string            `json:"currency"`
	PaymentMethod string            `json:"payment_method"`
	Metadata      map[string]string `json:"metadata"`
}

// payment is one charge attempt in the ledger. Its fields never change after
// creation, except requests.
type payment struct {
	id       string
	key      string
	params   createParams
	outcome  outcome
	created  time.Time
	requests int // guarded by Server.mu
}

// keyEntry holds what the provider remembers about one idempotency key.
type keyEntry struct {
	// mu serializes the requests that carry this key, so that racing retries
	// find the first one's answer instead of charging again. It guards the
	// fields below, which the first request to execute sets once.
	mu          sync.Mutex
	payment     *payment
	fingerprint string
	status      int
	body        []byte
}

// answer is a response decided under a key's lock and written after it.
type answer struct {
	status   int
	body     []byte
	replayed string // the Idempotent-Replayed header; empty for none
}

// paymentIntent is the API's view of a payment.
type paymentIntent struct {
	ID               string            `json:"id"`
	Object           string            `json:"object"`
	Amount           int64             `json:"amount"`
	Currency         string            `json:"currency"`
	Status           string            `json:"status"`
	PaymentMethod    string            `json:"payment_method"`
	Metadata         map[string]string `json:"metadata"`
	Created          int64             `json:"created"`
	LastPaymentError *apiError         `json:"last_payment_error"`
}

// handleCreate answers POST /v1/payment_intents: it validates the request,
// then executes it or replays the answer stored under its key.
func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	key, bad := idempotencyKey(r.Header)
	if bad != nil {
		writeError(w, http.StatusBadRequest, *bad)
		return
	}
	var p createParams
	if err := decodeBody(w, r, &p); err != nil {
		writeError(w, http.StatusBadRequest, invalidRequest("parameter_invalid", "", err.Error()))
		return
	}
	if bad := p.normalize(); bad != nil {
		writeError(w, http.StatusBadRequest, *bad)
		return
	}

	a := s.createOnce(r.Context(), key, p)
	if a.replayed != "" {
		w.Header().Set("Idempotent-Replayed", a.replayed)
	}
	writeBody(w, a.status, a.body)
}

// idempotencyKey returns the request's one Idempotency-Key, or the error
// answer if it has none, several, or a malformed one.
func idempotencyKey(h http.Header) (string, *apiError) {
	values := h.Values("Idempotency-Key")
	if len(values) != 1 {
		e := invalidRequest("idempotency_key_missing", "",
			"Send exactly one Idempotency-Key header.")
		return "", &e
	}
	key := values[0]
	if key == "" || len(key) > MaxIdempotencyKeyLength || !printableASCII(key) {
		e := invalidRequest("idempotency_key_invalid", "", fmt.Sprintf(
			"An idempotency key is 1 to %d printable ASCII characters.",
			MaxIdempotencyKeyLength))
		return "", &e
	}
	return key, nil
}

// printableASCII reports whether s holds only printable ASCII characters.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// normalize checks p and puts it in canonical form: a lowercase currency
// and non-nil metadata. It returns the error answer for invalid parameters.
func (p *createParams) normalize() *apiError {
	var e apiError
	switch {
	case p.Amount < 1 || p.Amount > MaxAmount:
		e = invalidRequest("parameter_invalid", "amount", fmt.Sprintf(
			"amount must be a whole number of minor units from 1 to %d.", MaxAmount))
	case !isCurrency(p.Currency):
		e = invalidRequest("parameter_invalid", "currency",
			"currency must be a three-letter ISO 4217 code.")
	case p.PaymentMethod == "":
		e = invalidRequest("parameter_missing", "payment_method", "payment_method is required.")
	case outcomes[p.PaymentMethod] == (outcome{}):
		e = invalidRequest("resource_missing", "payment_method",
			fmt.Sprintf("There is no payment method %q.", p.PaymentMethod))
	default:
		p.Currency = toLowerASCII(p.Currency)
		if p.Metadata == nil {
			p.Metadata = map[string]string{}
		}
		return nil
	}
	return &e
}

// isCurrency reports whether s looks like an ISO 4217 code, in either case.
func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // lowercase, for letters
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// toLowerASCII lowercases the ASCII letters of s.
func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// fingerprint identifies the parameters, to tell a retry from a reuse of its
// key. Encoding sorts the metadata keys, so equal parameters encode alike.
func (p createParams) fingerprint() string {
	return string(mustMarshal(p))
}

// createOnce executes the first valid request with key and replays its
// answer to every later one, counting each in the ledger.
func (s *Server) createOnce(ctx context.Context, key string, p createParams) answer {
	e := s.keyEntry(key)
	e.mu.Lock()
	defer e.mu.Unlock()

	if e.payment == nil {
		s.charge(ctx, e, key, p)
		return answer{status: e.status, body: e.body, replayed: "false"}
	}

	s.mu.Lock()
	e.payment.requests++
	s.mu.Unlock()

	if e.fingerprint != p.fingerprint() {
		return answer{status: http.StatusBadRequest, body: errorBody(apiError{
			Type: typeIdempotency, Code: "idempotency_key_reused",
			Message: "This idempotency key was first used with other parameters.",
		})}
	}
	return answer{status: e.status, body: e.body, replayed: "true"}
}

// keyEntry returns the entry of key, creating it if needed. Entries live as
// long as the Server, as the provider promises to remember keys that long.
func (s *Server) keyEntry(key string) *keyEntry {
	s.mu.Lock()
	defer s.mu.Unlock()

	e, ok := s.keys[key]
	if !ok {
		e = &keyEntry{}
		s.keys[key] = e
	}
	return e
}

// charge executes a create: it records a payment with the token's outcome in
// the ledger and stores the answer in e. The caller holds e.mu.
func (s *Server) charge(ctx context.Context, e *keyEntry, key string, p createParams) {
	created := s.now()

	s.mu.Lock()
	pay := &payment{
		id:       s.newID(),
		key:      key,
		params:   p,
		outcome:  outcomes[p.PaymentMethod],
		created:  created,
		requests: 1,
	}
	s.payments = append(s.payments, pay)
	s.byID[pay.id] = pay
	s.mu.Unlock()

	e.payment = pay
	e.fingerprint = p.fingerprint()
	e.status, e.body = pay.answer()

	s.log.LogAttrs(ctx, slog.LevelDebug, "payment created",
		slog.String(logKeyPaymentID, pay.id),
		slog.String(logKeyOrderID, p.Metadata["order_id"]),
		slog.Int64(logKeyAmount, p.Amount),
		slog.String(logKeyCurrency, p.Currency),
		slog.String(logKeyStatus, pay.outcome.status),
		slog.String(logKeyDeclineCode, pay.outcome.declineCode))
}

// idAlphabet is what payment ids are made of, after their prefix.
const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID returns a payment id not yet in use. The caller holds s.mu.
func (s *Server) newID() string {
	for {
		b := []byte("pi_")
		for range 24 {
			b = append(b, idAlphabet[s.rand.IntN(len(idAlphabet))])
		}
		if _, taken := s.byID[string(b)]; !taken {
			return string(b)
		}
	}
}

// answer is the response to the request that created p: the payment intent,
// or a card error that carries it.
func (p *payment) answer() (int, []byte) {
	pi := p.intent()
	if p.outcome.status == StatusSucceeded {
		return http.StatusOK, mustMarshal(pi)
	}
	e := *pi.LastPaymentError
	e.PaymentIntent = &pi
	return http.StatusPaymentRequired, errorBody(e)
}

// intent returns the API's view of p.
func (p *payment) intent() paymentIntent {
	pi := paymentIntent{
		ID:            p.id,
		Object:        "payment_intent",
		Amount:        p.params.Amount,
		Currency:      p.params.Currency,
		Status:        p.outcome.status,
		PaymentMethod: p.params.PaymentMethod,
		Metadata:      p.params.Metadata,
		Created:       p.created.Unix(),
	}
	if p.outcome.status == StatusDeclined {
		pi.LastPaymentError = &apiError{Type: typeCard, Code: "card_declined",
			DeclineCode: p.outcome.declineCode, Message: p.outcome.message}
	}
	return pi
}

// handleGet answers GET /v1/payment_intents/{id}.
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")

	s.mu.Lock()
	p, ok := s.byID[id]
	s.mu.Unlock()

	if !ok {
		writeError(w, http.StatusNotFound, invalidRequest("resource_missing", "id",
			fmt.Sprintf("There is no payment intent %q.", id)))
		return
	}
	writeJSON(w, http.StatusOK, p.intent())
}

// handleList answers GET /v1/payment_intents: the payments whose metadata
// holds the order_id asked for, oldest first, or every payment when the
// query names no order.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	orderID := r.URL.Query().Get("order_id")

	s.mu.Lock()
	data := []paymentIntent{}
	for _, p := range s.payments {
		if orderID == "" || p.params.Metadata["order_id"] == orderID {
			data = append(data, p.intent())
		}
	}
	s.mu.Unlock()

	writeJSON(w, http.StatusOK, struct {
		Object string          `json:"object"`
		Data   []paymentIntent `json:"data"`
	}{"list", data})
}
