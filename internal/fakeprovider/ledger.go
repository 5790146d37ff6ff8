package fakeprovider

import (
	"net/http"
	"time"
)

// LedgerEntry is one payment as the provider's books record it.
type LedgerEntry struct {
	// ID is the payment intent's id, "pi_" and 24 letters and digits.
	ID string `json:"id"`
	// IdempotencyKey is the key of the request that created the payment.
	IdempotencyKey string `json:"idempotency_key"`
	// OrderID is the payment's metadata.order_id; empty if it had none.
	OrderID string `json:"order_id"`
	// Amount is in minor units of Currency.
	Amount int64 `json:"amount"`
	// Currency is the lowercase ISO 4217 code.
	Currency string `json:"currency"`
	// PaymentMethod is the test token charged.
	PaymentMethod string `json:"payment_method"`
	// Status is StatusSucceeded or StatusDeclined.
	Status string `json:"status"`
	// DeclineCode says why a declined payment was declined; empty otherwise.
	DeclineCode string `json:"decline_code,omitempty"`
	// Requests counts the requests that carried the payment's key and got
	// past the faults: the one that created it, then every replay and every
	// reuse with other parameters. More than one means the client retried;
	// the single entry proves it was charged once.
	Requests int `json:"requests"`
	// CreatedAt is when the payment was created, by Options.Now.
	CreatedAt time.Time `json:"created_at"`
}

// Ledger returns every payment, oldest first, as GET /_control/ledger does.
func (s *Server) Ledger() []LedgerEntry {
	s.mu.Lock()
	defer s.mu.Unlock()

	entries := make([]LedgerEntry, 0, len(s.payments))
	for _, p := range s.payments {
		entries = append(entries, p.ledgerEntry())
	}
	return entries
}

// ledgerEntry returns the ledger's view of p. The caller holds Server.mu, for
// p.requests.
func (p *payment) ledgerEntry() LedgerEntry {
	return LedgerEntry{
		ID:             p.id,
		IdempotencyKey: p.key,
		OrderID:        p.params.Metadata["order_id"],
		Amount:         p.params.Amount,
		Currency:       p.params.Currency,
		PaymentMethod:  p.params.PaymentMethod,
		Status:         p.outcome.status,
		DeclineCode:    p.outcome.declineCode,
		Requests:       p.requests,
		CreatedAt:      p.created,
	}
}

// handleLedger answers GET /_control/ledger.
func (s *Server) handleLedger(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Data []LedgerEntry `json:"data"`
	}{s.Ledger()})
}
