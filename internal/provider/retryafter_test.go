package provider

import (
	"testing"
	"time"
)

func TestParseRetryAfterReadsSecondsAndDates(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{"120", 2 * time.Minute},
		{"-3", 0},
		{"soon", 0},
		{"1.5", 0},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second},
		{"Sun, 01 Mar 2026 11:59:00 GMT", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.value, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q): got %v, want %v", tt.value, got, tt.want)
		}
	}
}

func FuzzParseRetryAfterIsNeverNegative(f *testing.F) {
	for _, v := range []string{"1", "99999999999", "Sun, 01 Mar 2026 12:00:30 GMT", "-1"} {
		f.Add(v)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if got := parseRetryAfter(v, now); got < 0 {
			t.Fatalf("parseRetryAfter(%q): got %v, want no less than 0", v, got)
		}
	})
}
