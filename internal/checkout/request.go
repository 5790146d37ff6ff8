package checkout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"github.com/writepath/writepath/internal/order"
	"github.com/writepath/writepath/internal/problem"
)

// Limits on an order request. They keep every amount far from overflow and
// every row small.
const (
	MaxItems         = 100
	MaxQuantity      = 1000
	MaxUnitAmount    = 1_000_000   // in minor units: 10,000.00
	MaxOrderAmount   = 100_000_000 // in minor units: 1,000,000.00
	maxSKULength     = 64
	maxEmailLength   = 254
	maxPaymentMethod = 255
)

// currencies are the ISO 4217 codes accepted, all with two decimal places so
// that amounts mean the same thing everywhere.
var currencies = map[string]bool{"usd": true, "eur": true, "gbp": true, "cad": true,
	"aud": true, "chf": true, "sek": true, "nok": true, "dkk": true}

// OrderRequest is the body of POST /v1/orders.
type OrderRequest struct {
	Currency      string       `json:"currency"`
	Customer      Customer     `json:"customer"`
	Items         []order.Item `json:"items"`
	PaymentMethod string       `json:"payment_method"`
}

// Customer is who the order is for.
type Customer struct {
	Email string `json:"email"`
}

// PaymentRequest is the body of POST /v1/orders/{id}/payments.
type PaymentRequest struct {
	PaymentMethod string `json:"payment_method"`
}

// Amount returns the order's total. DecodeOrderRequest has checked it fits.
func (r *OrderRequest) Amount() int64 {
	var total int64
	for _, it := range r.Items {
		total += it.Quantity * it.UnitAmount
	}
	return total
}

// DecodeOrderRequest parses and checks an order request. Every field is
// required, unknown fields are refused, and the problem it returns lists each
// field that is wrong.
func DecodeOrderRequest(body []byte) (*OrderRequest, *problem.Problem) {
	var req OrderRequest
	if p := decodeStrict(body, &req); p != nil {
		return nil, p
	}

	var errs []problem.FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, problem.FieldError{Field: field, Detail: fmt.Sprintf(format, args...)})
	}
	if !currencies[req.Currency] {
		add("currency", "must be one of the supported lowercase ISO 4217 codes, such as usd")
	}
	if a, err := mail.ParseAddress(req.Customer.Email); err != nil || a.Address != req.Customer.Email ||
		len(req.Customer.Email) > maxEmailLength {
		add("customer.email", "must be a plain email address such as ada@example.com")
	}
	checkPaymentMethod(req.PaymentMethod, add)
	checkItems(req.Items, add)

	if len(errs) > 0 {
		p := problem.New(problem.InvalidRequest, "The order has invalid fields: "+fieldList(errs)+".")
		p.Errors = errs
		return nil, p
	}
	return &req, nil
}

// DecodePaymentRequest parses and checks a request to pay an order again.
func DecodePaymentRequest(body []byte) (*PaymentRequest, *problem.Problem) {
	var req PaymentRequest
	if p := decodeStrict(body, &req); p != nil {
		return nil, p
	}
	var errs []problem.FieldError
	checkPaymentMethod(req.PaymentMethod, func(field, format string, args ...any) {
		errs = append(errs, problem.FieldError{Field: field, Detail: fmt.Sprintf(format, args...)})
	})
	if len(errs) > 0 {
		p := problem.New(problem.InvalidRequest, "The payment has invalid fields: "+fieldList(errs)+".")
		p.Errors = errs
		return nil, p
	}
	return &req, nil
}

func checkItems(items []order.Item, add func(field, format string, args ...any)) {
	if len(items) == 0 || len(items) > MaxItems {
		add("items", "must hold 1 to %d items", MaxItems)
		return
	}
	var total int64
	for i, it := range items {
		field := fmt.Sprintf("items[%d]", i)
		if it.SKU == "" || len(it.SKU) > maxSKULength || !isToken(it.SKU) {
			add(field+".sku", "must be 1 to %d letters, digits, '-', '_' or '.'", maxSKULength)
		}
		if it.Quantity < 1 || it.Quantity > MaxQuantity {
			add(field+".quantity", "must be 1 to %d", MaxQuantity)
		}
		if it.UnitAmount < 1 || it.UnitAmount > MaxUnitAmount {
			add(field+".unit_amount", "must be 1 to %d minor units", MaxUnitAmount)
			continue
		}
		if it.Quantity >= 1 && it.Quantity <= MaxQuantity {
			total += it.Quantity * it.UnitAmount
		}
	}
	if total > MaxOrderAmount {
		add("items", "the order's total must not exceed %d minor units", MaxOrderAmount)
	}
}

func checkPaymentMethod(pm string, add func(field, format string, args ...any)) {
	if !strings.HasPrefix(pm, "pm_") || len(pm) > maxPaymentMethod || !isToken(pm) {
		add("payment_method", "must be a payment method token such as pm_card_visa, never a card number")
	}
}

// decodeStrict decodes exactly one JSON object with no unknown fields.
func decodeStrict(body []byte, v any) *problem.Problem {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return problem.New(problem.InvalidRequest, "The body is not a valid request: "+jsonReason(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return problem.New(problem.InvalidRequest, "The body holds more than one JSON value.")
	}
	return nil
}

// jsonReason turns a decoding error into a sentence for the client, without
// Go type names.
func jsonReason(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "the body is empty."
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d.", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "the body must be a JSON object."
		}
		return fmt.Sprintf("field %s has the wrong type.", typ.Field)
	}
	// Unknown fields have no error type of their own; the message names the
	// field and no Go type.
	return strings.TrimPrefix(err.Error(), "json: ") + "."
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

func fieldList(errs []problem.FieldError) string {
	names := make([]string, len(errs))
	for i, e := range errs {
		names[i] = e.Field
	}
	return strings.Join(names, ", ")
}
