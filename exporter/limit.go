package exporter

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter bounds the requests /metrics and /flows serve at once. They share its slots;
// /flows may hold at most lowMax of them, and a freed slot goes to a waiting /metrics
// before a waiting /flows, so a crowd of /flows clients cannot keep a scrape waiting.
// Low-priority requests are also paced (lowRate per second, in bursts of lowBurst): a
// client looping on /flows is held, not served as fast as the CPU allows, so it cannot
// take the CPU the scrapes need either.
type limiter struct {
	mu      sync.Mutex
	free    int
	lowHeld int
	lowMax  int
	highQ   []chan struct{}
	lowQ    []chan struct{}
	pace    *rate.Limiter
}

func newLimiter(slots, lowMax int, lowRate float64, lowBurst int) *limiter {
	return &limiter{free: slots, lowMax: min(lowMax, slots), pace: rate.NewLimiter(rate.Limit(lowRate), lowBurst)}
}

// paced waits for the low-priority request's turn; when that is further off than ctx
// allows it waits until ctx ends and reports false.
func (l *limiter) paced(ctx context.Context) bool {
	r := l.pace.Reserve()
	d := r.Delay()
	late := false
	if dl, ok := ctx.Deadline(); ok && time.Now().Add(d).After(dl) {
		r.Cancel()
		d, late = time.Until(dl), true
	}
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			r.Cancel()
			return false
		}
	}
	return !late
}

func (l *limiter) canTake(high bool) bool {
	return l.free > 0 && (high || (l.lowHeld < l.lowMax && len(l.highQ) == 0))
}

func (l *limiter) take(high bool) {
	l.free--
	if !high {
		l.lowHeld++
	}
}

// acquire waits for a slot until ctx ends; it reports whether it got one (then release
// must follow).
func (l *limiter) acquire(ctx context.Context, high bool) bool {
	if !high && !l.paced(ctx) {
		return false
	}
	l.mu.Lock()
	if l.canTake(high) {
		l.take(high)
		l.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	q := &l.lowQ
	if high {
		q = &l.highQ
	}
	*q = append(*q, ch)
	l.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
	}
	l.mu.Lock()
	for i, c := range *q {
		if c == ch { // still waiting: leave
			*q = append((*q)[:i], (*q)[i+1:]...)
			l.mu.Unlock()
			return false
		}
	}
	l.mu.Unlock()
	l.release(high) // granted meanwhile: give it back
	return false
}

// release frees a slot and hands it on: to the first waiting high-priority request, else
// to the first low-priority one if low ones may hold another.
func (l *limiter) release(high bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.free++
	if !high {
		l.lowHeld--
	}
	for l.free > 0 {
		var ch chan struct{}
		switch {
		case len(l.highQ) > 0:
			ch, l.highQ = l.highQ[0], l.highQ[1:]
			l.take(true)
		case len(l.lowQ) > 0 && l.lowHeld < l.lowMax:
			ch, l.lowQ = l.lowQ[0], l.lowQ[1:]
			l.take(false)
		default:
			return
		}
		close(ch)
	}
}

// wrap serves h within a slot; a request that waited longer than wait (or whose client
// left) is answered 503.
func (l *limiter) wrap(h http.Handler, high bool, wait time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		ok := l.acquire(ctx, high)
		cancel()
		if !ok {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many requests in flight, try again", http.StatusServiceUnavailable)
			return
		}
		defer l.release(high)
		h.ServeHTTP(w, r)
	})
}
