package api

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/writepath/writepath/internal/problem"
	"github.com/writepath/writepath/internal/store"
)

type tenantKey struct{}

// TenantID returns the id of the tenant a request was authenticated as, or
// "" before authentication. It is the scope of idempotency keys.
func TenantID(r *http.Request) string {
	id, _ := r.Context().Value(tenantKey{}).(string)
	return id
}

// tenantOnly authenticates the request by its bearer API key and applies the
// tenant's rate limit before next runs.
func (s *Server) tenantOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			unauthorized(w, "Send your API key as Authorization: Bearer <key>.")
			return
		}
		tenant, err := s.opts.DB.TenantByAPIKey(r.Context(), key)
		if errors.Is(err, store.ErrNotFound) {
			unauthorized(w, "This API key is not valid.")
			return
		}
		if err != nil {
			s.log.ErrorContext(r.Context(), "authenticate", slog.Any("error", err))
			problem.Write(w, problem.New(problem.InternalError, "Authentication failed; retry."))
			return
		}

		if wait, ok := s.limits.allow(tenant.ID); !ok {
			p := problem.New(problem.RateLimited,
				"Too many requests for this account; slow down and retry after Retry-After.")
			p.RetryAfter = wait
			problem.Write(w, p)
			return
		}

		setLogAttrs(r, slog.String("tenant_id", tenant.ID))
		ctx := context.WithValue(r.Context(), tenantKey{}, tenant.ID)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func bearer(h string) (string, bool) {
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	key = strings.TrimSpace(key)
	return key, key != ""
}

func unauthorized(w http.ResponseWriter, detail string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="writepath"`)
	problem.Write(w, problem.New(problem.Unauthorized, detail))
}

// limiters hold one token bucket per tenant. Only authenticated tenants get
// one, so the map is bounded by the number of tenants; buckets idle for ten
// minutes are dropped.
type limiters struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket // guarded by mu
	swept   time.Time          // guarded by mu
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiters(limit rate.Limit, burst int) *limiters {
	return &limiters{limit: limit, burst: burst, buckets: map[string]*bucket{}}
}

// allow takes a token for the tenant, or says how long until one is free.
func (l *limiters) allow(tenant string) (time.Duration, bool) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()

	if now.Sub(l.swept) > time.Minute {
		for id, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, id)
			}
		}
		l.swept = now
	}

	b := l.buckets[tenant]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[tenant] = b
	}
	b.seen = now
	if b.lim.AllowN(now, 1) {
		return 0, true
	}
	r := b.lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return time.Duration(math.Max(float64(wait), float64(time.Second))), false
}
