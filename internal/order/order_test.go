package order

import (
	"testing"
	"time"
)

func TestMoveFollowsTheStateMachine(t *testing.T) {
	now := time.Now()
	cases := []struct {
		from, to Status
		ok       bool
	}{
		{Pending, Processing, true},
		{Processing, Completed, true},
		{Processing, Failed, true},
		{Processing, Queued, true},
		{Queued, Processing, true},
		{Failed, Processing, true},
		{Completed, Processing, false},
		{Completed, Failed, false},
		{Failed, Completed, false},
		{Pending, Completed, false},
		{Pending, Failed, false},
	}
	for _, tc := range cases {
		o := &Order{ID: "ord_1", Status: tc.from, Version: 3}
		err := o.Move(tc.to, PaymentInFlight, now)
		if (err == nil) != tc.ok {
			t.Errorf("%s -> %s: error %v, want ok=%v", tc.from, tc.to, err, tc.ok)
			continue
		}
		if tc.ok && (o.Status != tc.to || o.Version != 4) {
			t.Errorf("%s -> %s: got status %s version %d", tc.from, tc.to, o.Status, o.Version)
		}
		if !tc.ok && (o.Status != tc.from || o.Version != 3) {
			t.Errorf("%s -> %s: refused move changed the order", tc.from, tc.to)
		}
	}
}
