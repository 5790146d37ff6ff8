package fakeprovider_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/writepath/writepath/internal/fakeprovider"
)

func FuzzCreateAnswersOnlyDefinedStatuses(f *testing.F) {
	f.Add("key-1", `{"amount": 2500, "currency": "usd", "payment_method": "pm_card_visa"}`)
	f.Add("key-2", `{"amount": 1, "currency": "EUR", "payment_method": "pm_card_chargeDeclined",
		"metadata": {"order_id": "ord_1"}}`)
	f.Add("", `{}`)
	f.Add("k", `[1, 2]`)
	f.Add("k", `{"metadata": {"order_id": 5}}`)

	fake := fakeprovider.New(fakeprovider.Options{})
	f.Fuzz(func(t *testing.T, key, body string) {
		req := httptest.NewRequest(http.MethodPost, "/v1/payment_intents", strings.NewReader(body))
		req.Header.Set("Idempotency-Key", key)
		rec := httptest.NewRecorder()

		fake.ServeHTTP(rec, req)

		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusPaymentRequired:
		default:
			t.Fatalf("status: got %d for key %q body %q, want 200, 400 or 402",
				rec.Code, key, body)
		}
	})
}
