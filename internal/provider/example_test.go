package provider_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/writepath/writepath/internal/fakeprovider"
	"github.com/writepath/writepath/internal/provider"
)

func ExampleClient_CreatePayment() {
	fake := fakeprovider.New(fakeprovider.Options{})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c, err := provider.New(provider.Options{BaseURL: srv.URL})
	if err != nil {
		panic(err)
	}

	_, err = c.CreatePayment(context.Background(), provider.PaymentParams{
		IdempotencyKey: "ord_1-attempt-1",
		Amount:         2500,
		Currency:       "usd",
		PaymentMethod:  "pm_card_chargeDeclinedInsufficientFunds",
		OrderID:        "ord_1",
	})

	var decline *provider.DeclineError
	switch {
	case errors.As(err, &decline):
		fmt.Println("declined:", decline.Code)
	case errors.Is(err, provider.ErrNotSent):
		fmt.Println("not charged; safe to retry")
	case errors.Is(err, provider.ErrUnknownOutcome):
		fmt.Println("maybe charged; retry with the same key")
	case err != nil:
		fmt.Println("refused:", err)
	}
	// Output: declined: insufficient_funds
}
