package checkout

import (
	"encoding/json"
	"strings"
	"testing"
)

const validOrder = `{"currency":"usd","customer":{"email":"ada@example.com"},
	"items":[{"sku":"tea-01","quantity":2,"unit_amount":1250}],"payment_method":"pm_card_visa"}`

func TestDecodeOrderRequest(t *testing.T) {
	req, p := DecodeOrderRequest([]byte(validOrder))
	if p != nil {
		t.Fatalf("valid order refused: %+v", p)
	}
	if req.Amount() != 2500 || req.Currency != "usd" || req.Customer.Email != "ada@example.com" {
		t.Errorf("decoded %+v", req)
	}

	bad := map[string]struct{ body, field string }{
		"empty":         {``, ""},
		"not an object": {`[1]`, ""},
		"two values":    {validOrder + `{}`, ""},
		"unknown field": {strings.Replace(validOrder, `"currency"`, `"coupon":1,"currency"`, 1), ""},
		"wrong type":    {strings.Replace(validOrder, `"quantity":2`, `"quantity":"2"`, 1), ""},
		"currency":      {strings.Replace(validOrder, `"usd"`, `"USD"`, 1), "currency"},
		"email":         {strings.Replace(validOrder, `ada@example.com`, `Ada <ada@example.com>`, 1), "customer.email"},
		"card number":   {strings.Replace(validOrder, `pm_card_visa`, `4242424242424242`, 1), "payment_method"},
		"no items": {strings.Replace(validOrder,
			`[{"sku":"tea-01","quantity":2,"unit_amount":1250}]`, `[]`, 1), "items"},
		"zero quantity":   {strings.Replace(validOrder, `"quantity":2`, `"quantity":0`, 1), "items[0].quantity"},
		"negative amount": {strings.Replace(validOrder, `1250`, `-1`, 1), "items[0].unit_amount"},
		"huge amount":     {strings.Replace(validOrder, `1250`, `99999999999`, 1), "items[0].unit_amount"},
		"total over limit": {strings.Replace(validOrder, `"quantity":2,"unit_amount":1250`,
			`"quantity":1000,"unit_amount":1000000`, 1), "items"},
		"bad sku": {strings.Replace(validOrder, `tea-01`, `tea 01`, 1), "items[0].sku"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			_, p := DecodeOrderRequest([]byte(tc.body))
			if p == nil || p.Status != 400 || p.Type != "/problems/invalid-request" {
				t.Fatalf("problem %+v, want invalid-request", p)
			}
			if tc.field == "" {
				return
			}
			for _, fe := range p.Errors {
				if fe.Field == tc.field {
					return
				}
			}
			t.Errorf("errors %+v do not name %s", p.Errors, tc.field)
		})
	}
}

// FuzzDecodeOrderRequest checks that the decoder never panics, that every
// order it accepts keeps the limits, and that every refusal is an
// invalid-request problem.
func FuzzDecodeOrderRequest(f *testing.F) {
	f.Add([]byte(validOrder))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"items":[{"quantity":1e309}]}`))
	f.Add([]byte(`{"currency":"usd","items":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, p := DecodeOrderRequest(body)
		if p != nil {
			if p.Status != 400 || p.Type != "/problems/invalid-request" || p.Detail == "" {
				t.Fatalf("refusal %+v is not an invalid-request problem", p)
			}
			if _, err := json.Marshal(p); err != nil {
				t.Fatalf("problem does not encode: %v", err)
			}
			return
		}
		if len(req.Items) == 0 || len(req.Items) > MaxItems {
			t.Fatalf("accepted %d items", len(req.Items))
		}
		for _, it := range req.Items {
			if it.Quantity < 1 || it.Quantity > MaxQuantity || it.UnitAmount < 1 ||
				it.UnitAmount > MaxUnitAmount {
				t.Fatalf("accepted item %+v", it)
			}
		}
		if a := req.Amount(); a < 1 || a > MaxOrderAmount {
			t.Fatalf("accepted amount %d", a)
		}
		if !currencies[req.Currency] || !strings.HasPrefix(req.PaymentMethod, "pm_") {
			t.Fatalf("accepted %+v", req)
		}
	})
}

func TestProviderKeyDependsOnTenantOrderAndAttempt(t *testing.T) {
	base := ProviderKey("ten_a", "ord_1", 1)
	if base != ProviderKey("ten_a", "ord_1", 1) {
		t.Fatal("ProviderKey is not deterministic")
	}
	for _, other := range []string{ProviderKey("ten_b", "ord_1", 1),
		ProviderKey("ten_a", "ord_2", 1), ProviderKey("ten_a", "ord_1", 2)} {
		if other == base {
			t.Errorf("ProviderKey collides: %s", other)
		}
	}
	if len(base) > 255 {
		t.Errorf("ProviderKey too long: %d", len(base))
	}
}
