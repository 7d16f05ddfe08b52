//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"testing"
	"time"
)

func TestCheckFlowIdleTimeout(t *testing.T) {
	for _, ok := range []time.Duration{MinFlowIdleTimeout, 5 * time.Minute, MaxFlowIdleTimeout} {
		if err := CheckFlowIdleTimeout(ok); err != nil {
			t.Errorf("CheckFlowIdleTimeout(%s): %v", ok, err)
		}
	}
	for _, bad := range []time.Duration{-time.Second, 0, time.Millisecond, MaxFlowIdleTimeout + time.Second} {
		if err := CheckFlowIdleTimeout(bad); err == nil {
			t.Errorf("CheckFlowIdleTimeout(%s) accepted", bad)
		}
	}
}
