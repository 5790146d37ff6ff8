package breaker_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/writepath/writepath/internal/breaker"
)

var errDeclined = errors.New("card declined")

func ExampleBreaker_Do() {
	b := breaker.New(breaker.Options{
		Name: "provider",
		// A decline is an answer from a healthy provider, not a failure.
		IsFailure: func(err error) bool { return !errors.Is(err, errDeclined) },
	})
	b.ForceOpen()

	err := b.Do(context.Background(), func(ctx context.Context) error {
		return nil // the provider call
	})
	switch {
	case errors.Is(err, breaker.ErrOpen):
		fmt.Println("not sent:", err)
	case errors.Is(err, breaker.ErrTimeout):
		fmt.Println("unknown, settle with the same key:", err)
	case err != nil:
		fmt.Println("answered:", err)
	}
	fmt.Println(b.Snapshot().State)
	// Output:
	// not sent: breaker provider: breaker open
	// open
}
