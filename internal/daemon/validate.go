package daemon

import (
	"fmt"
	"time"
)

// Bounds of the flow idle timeout (Options.Collector.FlowIdleTimeout): below a scrape
// interval's worth, series would come and go between scrapes; above a day, the state of
// what vanished would be kept for nothing.
const (
	MinFlowIdleTimeout = 10 * time.Second
	MaxFlowIdleTimeout = 24 * time.Hour
)

// CheckFlowIdleTimeout checks a --flow-idle-timeout value.
func CheckFlowIdleTimeout(d time.Duration) error {
	if d < MinFlowIdleTimeout || d > MaxFlowIdleTimeout {
		return fmt.Errorf("invalid --flow-idle-timeout %s: want %s to %s", d, MinFlowIdleTimeout, MaxFlowIdleTimeout)
	}
	return nil
}
