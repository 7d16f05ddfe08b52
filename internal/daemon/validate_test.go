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
	for _, bad := range []time.Duration{-time.Second, 0, time.Second, MaxFlowIdleTimeout + time.Second} {
		if err := CheckFlowIdleTimeout(bad); err == nil {
			t.Errorf("CheckFlowIdleTimeout(%s) accepted", bad)
		}
	}
}
