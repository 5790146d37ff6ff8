package provider_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/writepath/writepath/internal/provider"
)

// These answers are ones a real provider, or a proxy in front of it, can
// give and the fake never does; a bare handler stands in for them.
func TestAnswersTheFakeNeverGivesAreClassified(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"bad gateway", 502, "<html>bad gateway</html>", provider.ErrUnknownOutcome},
		{"gateway timeout", 504, "", provider.ErrUnknownOutcome},
		{"key in use", 409, `{"error": {"type": "idempotency_error"}}`, provider.ErrUnknownOutcome},
		{"redirect", 307, "", provider.ErrUnknownOutcome},
		{"garbled success", 200, `{"id": `, provider.ErrUnknownOutcome},
		{"garbled decline", 402, `card declined`, provider.ErrUnknownOutcome},
		{"oversized success", 200, `{"id": "` + strings.Repeat("x", 1<<20) + `"}`,
			provider.ErrUnknownOutcome},
		{"unauthorized", 401, `{"error": {"type": "invalid_request_error"}}`,
			provider.ErrInvalidRequest},
		{"unavailable without body", 503, "", provider.ErrNotSent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(
				func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Location", "/elsewhere")
					w.WriteHeader(tt.status)
					w.Write([]byte(tt.body))
				}))
			t.Cleanup(srv.Close)
			c := newClient(t, srv.URL, srv.Client())

			_, err := c.CreatePayment(t.Context(), visa("key-1"))

			checkOnly(t, err, tt.want)
			var d *provider.DeclineError
			if errors.As(err, &d) {
				t.Fatalf("error: got a decline %v, want none", err)
			}
		})
	}
}
