//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"fmt"
	"time"
)

// Bounds of the flow idle timeout (Options.Collector.FlowIdleTimeout): 0 or less means
// nothing; shorter than a scrape interval, series come and go between scrapes (tests
// want that); above a day, the state of what vanished would be kept for nothing.
const (
	MinFlowIdleTimeout = time.Second
	MaxFlowIdleTimeout = 24 * time.Hour
)

// CheckFlowIdleTimeout checks a --flow-idle-timeout value.
func CheckFlowIdleTimeout(d time.Duration) error {
	if d < MinFlowIdleTimeout || d > MaxFlowIdleTimeout {
		return fmt.Errorf("invalid --flow-idle-timeout %s: want %s to %s", d, MinFlowIdleTimeout, MaxFlowIdleTimeout)
	}
	return nil
}
