//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"testing"
	"time"
)

func TestNextBackoff(t *testing.T) {
	const first, longest = time.Second, time.Minute
	var got []time.Duration
	b := time.Duration(0)
	for range 8 { // watches that fail at once
		b = nextBackoff(b, 10*time.Millisecond, first, longest)
		got = append(got, b)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("waits %v, want %v seconds", got, want)
		}
	}
	if b = nextBackoff(b, 2*time.Minute, first, longest); b != first {
		t.Fatalf("after a watch that ran 2m the wait is %v, want %v", b, first)
	}
}
