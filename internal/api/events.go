package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/writepath/writepath/internal/order"
)

// heartbeat is how often an idle event stream sends a comment, so that
// proxies and clients see the connection alive.
const heartbeat = 15 * time.Second

// orderEvents streams an order as Server-Sent Events. Each event is the
// whole order after a change, with the order's version as its id; a client
// resuming with Last-Event-ID gets the current order at once if it changed
// since, and nothing it has already seen. The stream ends after the order
// reached a final state.
func (s *Server) orderEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenant, id := TenantID(r), r.PathValue("id")
	o, err := s.opts.Checkout.Order(ctx, tenant, id)
	if err != nil {
		s.writeLookupError(w, r, err)
		return
	}
	lastSent, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)

	var changed <-chan struct{}
	if s.opts.Watchers != nil {
		ch, unsubscribe := s.opts.Watchers.Subscribe(id)
		defer unsubscribe()
		changed = ch
	}
	poll := time.NewTicker(s.opts.EventPoll)
	defer poll.Stop()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")

	for {
		if o.Version > lastSent {
			if err := writeEvent(w, o); err != nil {
				return
			}
			lastSent = o.Version
		}
		_ = rc.SetWriteDeadline(time.Now().Add(heartbeat + 10*time.Second))
		if err := rc.Flush(); err != nil || settled(o) {
			return
		}

		select {
		case <-ctx.Done():
			return
		case <-s.opts.Done:
			return
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			continue
		case <-changed:
		case <-poll.C:
		}

		next, err := s.opts.Checkout.Order(ctx, tenant, id)
		if err != nil {
			s.log.WarnContext(ctx, "event stream: read order", slog.String("order_id", id),
				slog.Any("error", err))
			return
		}
		o = next
	}
}

// settled reports whether an order will not change any more: it is final
// and every side effect has come to rest.
func settled(o *order.Order) bool {
	if !o.Status.Final() {
		return false
	}
	for _, e := range o.SideEffects {
		if e.Status != "done" && e.Status != "dead" {
			return false
		}
	}
	return true
}

func writeEvent(w http.ResponseWriter, o *order.Order) error {
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: order\ndata: %s\n\n", o.Version, data)
	return err
}
