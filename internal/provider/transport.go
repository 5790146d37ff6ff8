package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// maxAnswerBytes bounds the body of an answer; the provider's answers are a
// few kilobytes at most.
const maxAnswerBytes = 1 << 20

// do sends req and decodes a successful answer into out. Its error says
// whether the request was not sent, refused, declined, or of unknown outcome.
func (c *Client) do(req *http.Request, out any) error {
	var t sendTrace
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), t.hooks()))

	resp, err := c.http.Do(req)
	if err != nil {
		return t.classify(err)
	}
	defer resp.Body.Close()

	body, err := readAnswer(resp.Body)
	return interpret(resp, body, err, out)
}

// Stages of a request on its way out, as sendTrace records them.
const (
	stageNone        int32 = iota // no connection yet: nothing left
	stageConnected                // a connection was obtained: bytes may leave
	stageWritten                  // the whole request was written
	stageWriteFailed              // writing failed before the request was whole
)

// sendTrace follows one request on its way out, to tell a request that never
// left from one that may have reached the provider. Its hooks run on the
// Transport's goroutines, hence the atomic.
type sendTrace struct {
	stage atomic.Int32
}

// hooks returns the trace hooks that record the stages of the request. If the
// Transport tries again on a new connection, the last attempt's stage wins.
func (t *sendTrace) hooks() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { t.stage.Store(stageConnected) },
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err != nil {
				t.stage.Store(stageWriteFailed)
				return
			}
			t.stage.Store(stageWritten)
		},
	}
}

// classify turns the error of a request that got no answer into "not sent"
// or "unknown". It is not sent only if no connection was obtained (dial
// failure, or the context ended first), or if writing stopped before the
// request was whole, which no server executes. Anything else, including a
// write still running when the context ended, may have reached the provider.
func (t *sendTrace) classify(err error) error {
	switch t.stage.Load() {
	case stageNone, stageWriteFailed:
		return &NotSentError{Err: err}
	default:
		return unknownOutcome(err)
	}
}

// readAnswer reads an answer's body, up to maxAnswerBytes.
func readAnswer(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxAnswerBytes+1))
	if err != nil {
		return body, err
	}
	if len(body) > maxAnswerBytes {
		return body[:maxAnswerBytes], fmt.Errorf("answer over %d bytes", maxAnswerBytes)
	}
	return body, nil
}

// interpret turns an answer into nil, with the payload decoded into out, or
// into an error that says what the answer means for the caller. readErr is
// the error, if any, of reading body.
func interpret(resp *http.Response, body []byte, readErr error, out any) error {
	status := resp.StatusCode
	switch {
	case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
		return &NotSentError{
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Err:        apiErrorFrom(status, body),
		}
	case definitiveRefusal(status):
		return apiErrorFrom(status, body)
	case readErr != nil:
		return unknownOutcome(fmt.Errorf("read %d answer: %w", status, readErr))
	case status >= 200 && status < 300:
		if err := json.Unmarshal(body, out); err != nil {
			return unknownOutcome(fmt.Errorf("decode %d answer: %w", status, err))
		}
		return nil
	case status == http.StatusPaymentRequired:
		return decline(body)
	default:
		// A 500 or 502 may come after the payment executed; a 504 or a 409
		// (the same key still running) certainly may.
		return unknownOutcome(apiErrorFrom(status, body))
	}
}

// decline reads the card error of a 402 answer.
func decline(body []byte) error {
	var e errorAnswer
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil {
		if err == nil {
			err = errors.New("no error member")
		}
		return unknownOutcome(fmt.Errorf("decode 402 answer: %w", err))
	}

	d := &DeclineError{Code: e.Error.DeclineCode, Message: e.Error.Message}
	if d.Code == "" {
		d.Code = e.Error.Code
	}
	if e.Error.PaymentIntent != nil {
		d.Payment = e.Error.PaymentIntent.payment()
	}
	return d
}

// apiErrorFrom describes an error answer, from its body if it can be read.
func apiErrorFrom(status int, body []byte) *APIError {
	e := &APIError{StatusCode: status}
	var a errorAnswer
	if json.Unmarshal(body, &a) == nil && a.Error != nil {
		e.Type, e.Code, e.Message = a.Error.Type, a.Error.Code, a.Error.Message
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// createRequest is the body of a create.
type createRequest struct {
	Amount        int64             `json:"amount"`
	Currency      string            `json:"currency"`
	PaymentMethod string            `json:"payment_method"`
	Metadata      map[string]string `json:"metadata,omitempty"`
}

// paymentIntent is the provider's view of a payment.
type paymentIntent struct {
	ID               string            `json:"id"`
	Amount           int64             `json:"amount"`
	Currency         string            `json:"currency"`
	Status           string            `json:"status"`
	PaymentMethod    string            `json:"payment_method"`
	Metadata         map[string]string `json:"metadata"`
	Created          int64             `json:"created"`
	LastPaymentError *wireError        `json:"last_payment_error"`
}

// payment converts pi to the client's view.
func (pi *paymentIntent) payment() Payment {
	p := Payment{
		ID:            pi.ID,
		Status:        pi.Status,
		PaymentMethod: pi.PaymentMethod,
		OrderID:       pi.Metadata["order_id"],
		Currency:      pi.Currency,
		Amount:        pi.Amount,
	}
	if pi.Created != 0 {
		p.Created = time.Unix(pi.Created, 0).UTC()
	}
	if pi.LastPaymentError != nil {
		p.DeclineCode = pi.LastPaymentError.DeclineCode
	}
	return p
}

// paymentList is the answer of a search.
type paymentList struct {
	Data []paymentIntent `json:"data"`
}

// errorAnswer is the body of an error answer.
type errorAnswer struct {
	Error *wireError `json:"error"`
}

// wireError is the provider's description of an error.
type wireError struct {
	Type          string         `json:"type"`
	Code          string         `json:"code"`
	DeclineCode   string         `json:"decline_code"`
	Message       string         `json:"message"`
	PaymentIntent *paymentIntent `json:"payment_intent"`
}

// mustMarshal encodes v, which is always one of this package's own types and
// so always encodable.
func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("provider: encode %T: %v", v, err))
	}
	return b
}
