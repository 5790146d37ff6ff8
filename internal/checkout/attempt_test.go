package checkout

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/provider"
)

func TestOutcomesStayApart(t *testing.T) {
	s := &Service{opts: Options{Breaker: breaker.New(breaker.Options{})}}
	cases := []struct {
		name    string
		err     error
		want    outcome
		failure bool // counts against the provider's breaker
	}{
		{"answer", nil, succeeded, false},
		{"decline", &provider.DeclineError{Code: "insufficient_funds"}, declined, false},
		{"invalid method", fmt.Errorf("create payment: %w", provider.ErrInvalidRequest), declined, false},
		{"breaker open", fmt.Errorf("breaker provider: %w", breaker.ErrOpen), notSent, true},
		{"refused", &provider.NotSentError{RetryAfter: 2 * time.Second, Err: errors.New("503")}, notSent, true},
		{"timeout", fmt.Errorf("breaker provider: %w", breaker.ErrTimeout), unknown, true},
		{"dropped", fmt.Errorf("create payment: %w", provider.ErrUnknownOutcome), unknown, true},
		{"deadline", context.DeadlineExceeded, unknown, true},
	}
	for _, tc := range cases {
		r := s.classify(provider.Payment{}, tc.err)
		if r.kind != tc.want {
			t.Errorf("%s: outcome %d, want %d", tc.name, r.kind, tc.want)
		}
		if got := ProviderFailure(tc.err); got != tc.failure && !errors.Is(tc.err, breaker.ErrOpen) {
			t.Errorf("%s: ProviderFailure %v, want %v", tc.name, got, tc.failure)
		}
		if tc.name == "refused" && r.retryAfter != 2*time.Second {
			t.Errorf("refused: retry after %v, want the provider's 2s", r.retryAfter)
		}
	}
}
