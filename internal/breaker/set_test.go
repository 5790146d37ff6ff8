package breaker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
)

func TestSetCreatesOneBreakerPerKey(t *testing.T) {
	s := NewSet("webhook:", testOptions())
	a := s.For("a.example")
	if got := s.For("a.example"); got != a {
		t.Fatalf("For twice with one key returned two breakers")
	}
	if got := s.For("b.example"); got == a {
		t.Fatalf("For with two keys returned one breaker")
	}
	if got, want := a.Name(), "webhook:a.example"; got != want {
		t.Fatalf("Name() = %q, want %q", got, want)
	}
	if got, want := s.Len(), 2; got != want {
		t.Fatalf("Len() = %d, want %d", got, want)
	}
}

func TestSetBreakersAreIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSet("webhook:", testOptions())
		trip(t, s.For("down.example"))
		if err := s.For("up.example").Do(t.Context(), succeed); err != nil {
			t.Fatalf("Do on another host = %v, want nil", err)
		}
	})
}

func TestSetEvictsLeastRecentlyUsedClosedBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions()
		o.MaxKeys = 3
		s := NewSet("webhook:", o)
		down := s.For("a") // least recently used, but open
		trip(t, down)
		b := s.For("b")
		s.For("c")
		s.For("b") // c is now the least recently used closed one

		s.For("d")
		want := []string{"webhook:a", "webhook:b", "webhook:d"}
		if got := names(s.Snapshots()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("breakers = %v, want %v (c evicted as least recently used closed)", got, want)
		}
		if s.For("a") != down || s.For("b") != b {
			t.Fatalf("For returned a new breaker for a key that was kept")
		}
	})
}

func TestSetStaysBoundedWhenAllBreakersOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions()
		o.MaxKeys = 2
		s := NewSet("webhook:", o)
		trip(t, s.For("a"))
		trip(t, s.For("b"))
		s.For("b")

		s.For("c")
		want := []string{"webhook:b", "webhook:c"}
		if got := names(s.Snapshots()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("breakers = %v, want %v", got, want)
		}
	})
}

func TestSetKeepsForcedOpenBreakerOverOpenOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := testOptions()
		o.MaxKeys = 2
		s := NewSet("webhook:", o)
		s.For("a").ForceOpen()
		trip(t, s.For("b"))

		s.For("c")
		want := []string{"webhook:a", "webhook:c"}
		if got := names(s.Snapshots()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("breakers = %v, want %v", got, want)
		}
	})
}

func TestSetSnapshotsSortedByName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSet("webhook:", testOptions())
		for _, k := range []string{"c", "a", "d", "b"} {
			s.For(k)
		}
		trip(t, s.For("c"))

		snaps := s.Snapshots()
		want := []string{"webhook:a", "webhook:b", "webhook:c", "webhook:d"}
		if got := names(snaps); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("Snapshots() names = %v, want %v", got, want)
		}
		if got, want := snaps[2].State, StateOpen; got != want {
			t.Fatalf("state of webhook:c = %q, want %q", got, want)
		}
	})
}

func TestSetConcurrentUse(t *testing.T) {
	o := testOptions()
	o.MaxKeys = 8
	s := NewSet("webhook:", o)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				key := fmt.Sprintf("host%d", (g+i)%20)
				_ = s.For(key).Do(context.Background(), fail)
				if i%50 == 0 {
					_ = s.Snapshots()
				}
			}
		})
	}
	wg.Wait()
	if got, max := s.Len(), 8; got > max {
		t.Fatalf("Len() = %d, want at most %d", got, max)
	}
}

func names(snaps []Snapshot) []string {
	out := make([]string, len(snaps))
	for i, s := range snaps {
		out[i] = s.Name
	}
	return out
}
