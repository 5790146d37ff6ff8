package fakeprovider

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxBodyBytes bounds a request body. Real payment bodies are a few hundred
// bytes.
const maxBodyBytes = 64 << 10

// Error types, the values of the "type" member of an error answer.
const (
	typeInvalidRequest = "invalid_request_error"
	typeIdempotency    = "idempotency_error"
	typeCard           = "card_error"
	typeAPI            = "api_error"
	typeRateLimit      = "rate_limit_error"
)

// apiError is the "error" member of an error answer.
type apiError struct {
	Type          string         `json:"type"`
	Code          string         `json:"code,omitempty"`
	DeclineCode   string         `json:"decline_code,omitempty"`
	Param         string         `json:"param,omitempty"`
	Message       string         `json:"message"`
	PaymentIntent *paymentIntent `json:"payment_intent,omitempty"`
}

// invalidRequest is the error answer for a request the provider refuses to
// execute as it stands.
func invalidRequest(code, param, message string) apiError {
	return apiError{Type: typeInvalidRequest, Code: code, Param: param, Message: message}
}

// errorBody encodes e as a whole error answer.
func errorBody(e apiError) []byte {
	return mustMarshal(struct {
		Error apiError `json:"error"`
	}{e})
}

// writeError answers with status and the error e.
func writeError(w http.ResponseWriter, status int, e apiError) {
	writeBody(w, status, errorBody(e))
}

// writeJSON answers with status and v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeBody(w, status, mustMarshal(v))
}

// writeBody answers with status and an encoded JSON body.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body) // a failed write means the client left; nothing to do
}

// mustMarshal encodes v, which is always one of this package's own types and
// so always encodable.
func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fakeprovider: encode %T: %v", v, err))
	}
	return append(b, '\n')
}

// decodeBody decodes a request body that must hold exactly one JSON object
// with no unknown members. Its errors are fit to show the client.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()

	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON body: data after the object")
	}
	return nil
}
