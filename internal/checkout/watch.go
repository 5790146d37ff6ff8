package checkout

import "sync"

// Watchers tell the readers of an order's event stream that it changed. A
// reader subscribes to an order, and is signalled (without the order: it
// reads the order itself) after every committed change. Signals coalesce: a
// slow reader sees the latest state, not every state. A nil *Watchers is
// valid and signals nobody.
type Watchers struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{} // by order id; guarded by mu
}

// NewWatchers returns an empty set of watchers.
func NewWatchers() *Watchers {
	return &Watchers{subs: map[string]map[chan struct{}]struct{}{}}
}

// Subscribe returns a channel signalled after each change of the order, and a
// function that ends the subscription. Entries are removed when their last
// subscriber leaves, so the map holds only orders being watched.
func (w *Watchers) Subscribe(orderID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.subs[orderID] == nil {
		w.subs[orderID] = map[chan struct{}]struct{}{}
	}
	w.subs[orderID][ch] = struct{}{}
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.subs[orderID], ch)
		if len(w.subs[orderID]) == 0 {
			delete(w.subs, orderID)
		}
	}
}

// Notify signals the subscribers of an order.
func (w *Watchers) Notify(orderID string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.subs[orderID] {
		select {
		case ch <- struct{}{}:
		default: // already signalled; the reader will read the latest state
		}
	}
}
