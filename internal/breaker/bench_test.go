package breaker

import (
	"context"
	"testing"
	"time"
)

func BenchmarkOpenBreakerFastFail(b *testing.B) {
	br := New(Options{Name: "provider", MinRequests: 1})
	_ = br.Do(context.Background(), fail)
	if got := br.Snapshot().State; got != StateOpen {
		b.Fatalf("state = %q, want open", got)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = br.Do(ctx, succeed)
	}
}

func BenchmarkClosedBreakerCall(b *testing.B) {
	br := New(Options{Name: "provider"})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = br.Do(ctx, succeed)
	}
}

func BenchmarkClosedBreakerCallWithTimeout(b *testing.B) {
	br := New(Options{Name: "provider", Timeout: time.Second})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = br.Do(ctx, succeed)
	}
}
