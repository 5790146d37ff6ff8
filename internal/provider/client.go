package provider

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxIdempotencyKeyLength is the longest idempotency key the client sends,
// in bytes.
const MaxIdempotencyKeyLength = 255

// Payment statuses the fake provider reports in Payment.Status. Another
// provider may report others; the client passes them through unchanged.
const (
	// StatusSucceeded is a payment that was charged.
	StatusSucceeded = "succeeded"
	// StatusDeclined is a payment the card issuer refused.
	StatusDeclined = "declined"
)

// Options configure a Client.
type Options struct {
	// BaseURL is the provider's root, such as "http://127.0.0.1:9090", with
	// an http or https scheme and a host. Required.
	BaseURL string

	// HTTPClient sends the requests. Nil means a client of its own on
	// http.DefaultTransport. The Client adds no timeout: bound each call
	// with its context, or set HTTPClient.Timeout.
	HTTPClient *http.Client
}

// Client calls a payment provider. It is safe for concurrent use.
type Client struct {
	base string // BaseURL without its trailing slash
	http *http.Client
}

// New returns a Client for the provider at opts.BaseURL.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("provider: base url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("provider: base url %q: want http(s)://host", opts.BaseURL)
	}

	c := &Client{base: strings.TrimRight(opts.BaseURL, "/"), http: opts.HTTPClient}
	if c.http == nil {
		c.http = &http.Client{}
	}
	return c, nil
}

// PaymentParams describe a payment to create.
type PaymentParams struct {
	// IdempotencyKey makes retries safe: every retry of one payment attempt
	// must send the same key, so that the provider charges at most once.
	// Required, 1 to MaxIdempotencyKeyLength bytes.
	IdempotencyKey string
	// Amount is in minor units of Currency, such as cents.
	Amount int64
	// Currency is an ISO 4217 code, such as "usd".
	Currency string
	// PaymentMethod is the provider's token for the card, such as
	// "pm_card_visa"; never a card number.
	PaymentMethod string
	// OrderID is stored in the payment's metadata, so that FindPayments can
	// find it when the outcome of CreatePayment is unknown. Empty means
	// none.
	OrderID string
}

// Payment is a payment as the provider reports it.
type Payment struct {
	// ID is the provider's id for the payment, such as "pi_...".
	ID string
	// Status is StatusSucceeded, StatusDeclined, or another status of the
	// provider's.
	Status string
	// PaymentMethod is the token charged.
	PaymentMethod string
	// OrderID is the order the payment was created for; empty if none.
	OrderID string
	// Currency is the lowercase ISO 4217 code.
	Currency string
	// Amount is in minor units of Currency.
	Amount int64
	// DeclineCode says why a declined payment was declined; empty otherwise.
	DeclineCode string
	// Created is when the provider created the payment, to the second.
	Created time.Time
}

// CreatePayment creates and confirms a payment. See the package
// documentation for what its errors mean; above all, an error that matches
// ErrUnknownOutcome may hide a charge, so retry it only with the same
// IdempotencyKey.
func (c *Client) CreatePayment(ctx context.Context, p PaymentParams) (Payment, error) {
	if err := p.validate(); err != nil {
		return Payment{}, fmt.Errorf("create payment: %w", err)
	}

	req, err := c.newRequest(ctx, http.MethodPost, "/v1/payment_intents", p.body())
	if err != nil {
		return Payment{}, fmt.Errorf("create payment: %w", err)
	}
	req.Header.Set("Idempotency-Key", p.IdempotencyKey)

	var pi paymentIntent
	if err := c.do(req, &pi); err != nil {
		return Payment{}, fmt.Errorf("create payment: %w", err)
	}
	return pi.payment(), nil
}

// validate refuses, before anything is sent, a payment that could be charged
// twice: one without a usable idempotency key.
func (p PaymentParams) validate() error {
	n := len(p.IdempotencyKey)
	if n == 0 || n > MaxIdempotencyKeyLength {
		return fmt.Errorf("%w: idempotency key must be 1 to %d bytes",
			ErrInvalidRequest, MaxIdempotencyKeyLength)
	}
	return nil
}

// body encodes p as the provider expects it.
func (p PaymentParams) body() []byte {
	w := createRequest{
		Amount:        p.Amount,
		Currency:      p.Currency,
		PaymentMethod: p.PaymentMethod,
	}
	if p.OrderID != "" {
		w.Metadata = map[string]string{"order_id": p.OrderID}
	}
	return mustMarshal(w)
}

// GetPayment reads back the payment with the provider's id. A payment the
// provider does not know is an error that matches ErrNotFound.
func (c *Client) GetPayment(ctx context.Context, id string) (Payment, error) {
	if id == "" {
		return Payment{}, fmt.Errorf("get payment: %w: empty id", ErrInvalidRequest)
	}

	path := "/v1/payment_intents/" + url.PathEscape(id)
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return Payment{}, fmt.Errorf("get payment: %w", err)
	}

	var pi paymentIntent
	if err := c.do(req, &pi); err != nil {
		return Payment{}, fmt.Errorf("get payment: %w", err)
	}
	return pi.payment(), nil
}

// FindPayments returns the payments created for orderID, oldest first, and
// an empty slice if there are none. This is how an unknown outcome is settled
// when the payment's id never came back.
func (c *Client) FindPayments(ctx context.Context, orderID string) ([]Payment, error) {
	if orderID == "" {
		return nil, fmt.Errorf("find payments: %w: empty order id", ErrInvalidRequest)
	}

	path := "/v1/payment_intents?order_id=" + url.QueryEscape(orderID)
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, fmt.Errorf("find payments: %w", err)
	}

	var list paymentList
	if err := c.do(req, &list); err != nil {
		return nil, fmt.Errorf("find payments: %w", err)
	}
	payments := make([]Payment, 0, len(list.Data))
	for _, pi := range list.Data {
		payments = append(payments, pi.payment())
	}
	return payments, nil
}

// newRequest builds a request for path under the base URL, with body as
// JSON if it is not nil.
func (c *Client) newRequest(ctx context.Context, method, path string, body []byte) (
	*http.Request, error) {

	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	req.Header.Set("Accept", "application/json")
	if body == nil {
		return req, nil
	}
	req.Header.Set("Content-Type", "application/json")

	// Without GetBody the Transport cannot replay the body, so it never
	// resends a create on its own (it would for a request with an
	// Idempotency-Key): the caller owns retries, and counts them.
	req.GetBody = nil
	return req, nil
}
