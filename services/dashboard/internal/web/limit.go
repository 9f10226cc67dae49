package web

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds the users whose limiters are kept; past it, those
// whose allowance is full again (they would be created just so) go.
const maxLimiters = 10_000

// limiter limits each user to a token bucket: burst at once, then limit.
// Each replica keeps its own, so n replicas allow up to n times as much.
type limiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu     sync.Mutex
	byUser map[string]*rate.Limiter
}

func newLimiter(limit rate.Limit, burst int, now func() time.Time) *limiter {
	return &limiter{limit: limit, burst: burst, now: now, byUser: map[string]*rate.Limiter{}}
}

// allow takes one from user's allowance, or says how long until there is
// one to take.
func (l *limiter) allow(user string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.byUser[user]
	if !ok {
		if len(l.byUser) >= maxLimiters {
			for u, old := range l.byUser {
				if old.TokensAt(now) >= float64(l.burst) {
					delete(l.byUser, u)
				}
			}
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.byUser[user] = lim
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
