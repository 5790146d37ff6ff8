package breaker

import (
	"cmp"
	"container/list"
	"log/slog"
	"slices"
	"sync"
)

// Set holds one breaker per key, such as a webhook destination host, created
// on first use. It holds at most [Options.MaxKeys] breakers: to make room it
// drops the least recently used closed one, which loses nothing but counts.
// Its methods are safe for concurrent use.
type Set struct {
	prefix string
	opts   Options
	max    int
	log    *slog.Logger

	mu sync.Mutex
	// byKey and lru are guarded by mu. lru runs from the most to the least
	// recently used; each element holds a *setEntry.
	byKey map[string]*list.Element
	lru   *list.List
}

type setEntry struct {
	key string
	b   *Breaker
}

// NewSet returns an empty set whose breakers are configured by o, each named
// prefix+key.
func NewSet(prefix string, o Options) *Set {
	o = withDefaults(o)
	mustValidate(o)
	return &Set{
		prefix: prefix,
		opts:   o,
		max:    o.MaxKeys,
		log:    componentLogger(o.Logger, prefix+"*"),
		byKey:  make(map[string]*list.Element),
		lru:    list.New(),
	}
}

// For returns the breaker for key, creating it if needed.
func (s *Set) For(key string) *Breaker {
	s.mu.Lock()
	defer s.mu.Unlock()

	if el, ok := s.byKey[key]; ok {
		s.lru.MoveToFront(el)
		return el.Value.(*setEntry).b
	}
	if s.lru.Len() >= s.max {
		s.evict()
	}

	o := s.opts
	o.Name = s.prefix + key
	e := &setEntry{key: key, b: New(o)}
	s.byKey[key] = s.lru.PushFront(e)
	return e.b
}

// evict drops one breaker. It prefers the least recently used closed one. If
// every breaker is open or probing, it drops the least recently used one that
// an operator did not force open (else the least recently used one), so that
// the bound holds even when many destinations fail at once: forgetting an
// open breaker costs at most one call to a failing host.
//
// Requires s.mu held.
func (s *Set) evict() {
	var fallback *list.Element
	for el := s.lru.Back(); el != nil; el = el.Prev() {
		snap := el.Value.(*setEntry).b.Snapshot()
		if snap.State == StateClosed {
			s.remove(el)
			return
		}
		if fallback == nil && !snap.Forced {
			fallback = el
		}
	}
	if fallback == nil {
		fallback = s.lru.Back()
	}
	s.log.Warn("no closed breaker to evict; evicting an open one",
		slog.String(logKeyEvicted, fallback.Value.(*setEntry).b.name))
	s.remove(fallback)
}

// Requires s.mu held.
func (s *Set) remove(el *list.Element) {
	delete(s.byKey, el.Value.(*setEntry).key)
	s.lru.Remove(el)
}

// Len returns the number of breakers the set holds.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

// Snapshots returns the state of every breaker in the set, sorted by name.
// It does not count as a use of any of them.
func (s *Set) Snapshots() []Snapshot {
	s.mu.Lock()
	breakers := make([]*Breaker, 0, s.lru.Len())
	for el := s.lru.Front(); el != nil; el = el.Next() {
		breakers = append(breakers, el.Value.(*setEntry).b)
	}
	s.mu.Unlock()

	snaps := make([]Snapshot, len(breakers))
	for i, b := range breakers {
		snaps[i] = b.Snapshot()
	}
	slices.SortFunc(snaps, func(a, b Snapshot) int { return cmp.Compare(a.Name, b.Name) })
	return snaps
}
