// Package order defines the order, its states and the transitions between
// them. It holds no I/O: storage and the checkout flow build on it.
package order

import (
	"fmt"
	"time"
)

// Status is where an order stands.
type Status string

// The order statuses. Completed and Failed are final.
const (
	// Pending: recorded; payment not started yet.
	Pending Status = "pending"
	// Queued: accepted; payment handed to the background.
	Queued Status = "queued"
	// Processing: a payment attempt is in flight or being confirmed.
	Processing Status = "processing"
	// Completed: paid.
	Completed Status = "completed"
	// Failed: definitively not paid; Failure.Code says why.
	Failed Status = "failed"
)

// Final reports whether no further transition can leave s.
func (s Status) Final() bool { return s == Completed || s == Failed }

// PaymentStatus is where the current payment attempt stands.
type PaymentStatus string

// The payment statuses.
const (
	PaymentNotStarted PaymentStatus = "not_started"
	// PaymentDeferred: not sent; the breaker was open or the provider refused
	// before executing. Safe to send again.
	PaymentDeferred PaymentStatus = "deferred"
	PaymentInFlight PaymentStatus = "in_flight"
	// PaymentUnknown: sent, no answer. Settled by retrying with the same
	// provider key or looking the payment up, never by a new charge.
	PaymentUnknown   PaymentStatus = "unknown"
	PaymentSucceeded PaymentStatus = "succeeded"
	PaymentDeclined  PaymentStatus = "declined"
	PaymentAbandoned PaymentStatus = "abandoned"
)

// Failure codes of a failed order.
const (
	// FailureCardDeclined: the provider declined the payment method.
	FailureCardDeclined = "card_declined"
	// FailurePaymentUnavailable: the payment could not be made within the
	// retry window.
	FailurePaymentUnavailable = "payment_unavailable"
	// FailureInvalidPaymentMethod: the provider refused the payment method
	// as invalid; another one may work.
	FailureInvalidPaymentMethod = "invalid_payment_method"
)

// Item is one line of an order.
type Item struct {
	SKU        string `json:"sku"`
	Quantity   int64  `json:"quantity"`
	UnitAmount int64  `json:"unit_amount"`
}

// Failure says why an order failed.
type Failure struct {
	Code        string `json:"code"`
	DeclineCode string `json:"decline_code,omitempty"`
	Message     string `json:"message"`
}

// Payment is the order's current payment attempt.
type Payment struct {
	Attempt           int           `json:"attempt"`
	Method            string        `json:"payment_method"`
	Status            PaymentStatus `json:"status"`
	ProviderReference *string       `json:"provider_reference"`
	// StartedAt is when this attempt began; the retry window of a payment
	// that cannot be sent counts from here.
	StartedAt time.Time `json:"-"`
}

// SideEffect is one slow consequence of an order, worked in the background.
type SideEffect struct {
	Kind   string `json:"kind"`
	Status string `json:"status"`
}

// Order is a customer's order, as stored and as shown by the API.
type Order struct {
	ID            string       `json:"id"`
	TenantID      string       `json:"-"`
	Status        Status       `json:"status"`
	Amount        int64        `json:"amount"`
	Currency      string       `json:"currency"`
	CustomerEmail string       `json:"-"`
	Items         []Item       `json:"items"`
	Payment       Payment      `json:"payment"`
	Failure       *Failure     `json:"failure"`
	SideEffects   []SideEffect `json:"side_effects"`
	Version       int64        `json:"version"`
	CreatedAt     time.Time    `json:"created_at"`
	UpdatedAt     time.Time    `json:"updated_at"`
}

// transitions lists the statuses each status may move to.
var transitions = map[Status][]Status{
	Pending:    {Processing, Queued},
	Queued:     {Processing, Failed},
	Processing: {Queued, Completed, Failed},
	Failed:     {Processing}, // paying again after a decline
}

// CanMove reports whether an order may go from one status to another.
func CanMove(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Move changes the order's status and payment status, checking the
// transition, and bumps its version so that watchers see a new event.
func (o *Order) Move(to Status, payment PaymentStatus, now time.Time) error {
	if o.Status != to && !CanMove(o.Status, to) {
		return fmt.Errorf("order %s: cannot move from %s to %s", o.ID, o.Status, to)
	}
	o.Status, o.Payment.Status = to, payment
	o.Version++
	o.UpdatedAt = now
	return nil
}
