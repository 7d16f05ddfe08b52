package exporter

import (
	"context"
	"testing"
	"time"
)

// acquireSoon starts an acquire and returns once it waits in its queue.
func acquireSoon(t *testing.T, l *limiter, high bool) chan bool {
	t.Helper()
	queued := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.highQ) + len(l.lowQ)
	}
	before := queued()
	got := make(chan bool, 1)
	go func() { got <- l.acquire(context.Background(), high) }()
	for deadline := time.Now().Add(5 * time.Second); queued() == before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the acquire never queued")
		}
	}
	return got
}

// A freed slot goes to a waiting /metrics before a waiting /flows, even one that came
// first.
func TestLimiterPriority(t *testing.T) {
	l := newLimiter(1, 1, 1000, 1000)
	if !l.acquire(context.Background(), true) {
		t.Fatal("first acquire failed")
	}
	low := acquireSoon(t, l, false)
	high := acquireSoon(t, l, true)
	l.release(true)
	select {
	case <-high:
	case <-low:
		t.Fatal("the low-priority waiter got the slot first")
	case <-time.After(time.Second):
		t.Fatal("nobody got the freed slot")
	}
	l.release(true)
	if ok := <-low; !ok {
		t.Fatal("the low-priority waiter never got a slot")
	}
	l.release(false)
}

// /flows may hold at most lowMax slots; /metrics still gets the others, and a /flows
// request that cannot get one in time gives up.
func TestLimiterLowMax(t *testing.T) {
	l := newLimiter(4, 2, 1000, 1000)
	bg := context.Background()
	for i := range 2 {
		if !l.acquire(bg, false) {
			t.Fatalf("low-priority acquire %d failed", i+1)
		}
	}
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	if l.acquire(ctx, false) {
		t.Error("a third low-priority request got a slot")
	}
	for i := range 2 {
		if !l.acquire(bg, true) {
			t.Errorf("high-priority request %d did not get one of the two other slots", i+1)
		}
	}
	l.release(false) // the waiting-nobody case: the slot goes back
	if !l.acquire(bg, false) {
		t.Error("a freed low-priority slot was not reusable")
	}
}

// Low-priority requests are paced: beyond the burst they wait their turn, and one whose
// turn is further off than its deadline is refused after waiting out the deadline (not
// at once, so a looping client is held).
func TestLimiterPacing(t *testing.T) {
	l := newLimiter(4, 2, 10, 2) // 10 per second, bursts of 2
	bg := context.Background()
	start := time.Now()
	for range 4 {
		if !l.acquire(bg, false) {
			t.Fatal("paced acquire failed")
		}
		l.release(false)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("4 requests at 10/s in bursts of 2 took %v, want at least 200 ms", d)
	}
	for range 10 { // use up the next second
		l.pace.Reserve()
	}
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	if l.acquire(ctx, false) {
		t.Error("a request whose turn is a second away got a slot within 100 ms")
	}
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Errorf("refused after %v, want after the 100 ms deadline", d)
	}
	if !l.acquire(bg, true) {
		t.Error("a high-priority request is paced too")
	}
}
