package exporter

import (
	"context"

	"github.com/netctl/netctl/internal/analysis"
)

// Restart tells the collector that its source is about to count in other kernel maps
// (serve opened its maps again from new pins). Under the collector's lock, so that no
// scrape runs in between, it reads the source a last time (keeping what the old maps
// counted since the last scrape; a failed read is skipped), calls swap, and when swap
// reports that the maps changed, takes every kernel value it reads next as counted from
// zero. The exported counters so go on without going down and without counting twice.
func (c *Collector) Restart(swap func() (changed bool, err error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.SnapshotTimeout)
	snap, err := c.src.Snapshot(ctx)
	cancel()
	if err == nil {
		now, idle := c.opts.Now(), c.opts.FlowIdleTimeout
		c.st.apply(snap, analysis.DetectAsymmetric(snap.Flows, now, idle), now, idle)
	}
	changed, err := swap()
	if changed {
		c.st.restart()
	}
	return err
}

// restart makes every counter take its next raw value whole: the kernel's counters
// start again from zero in new maps.
func (s *state) restart() {
	for _, st := range s.ifaces {
		for _, c := range []*counter{&st.rxBytes, &st.rxPackets, &st.txBytes, &st.txPackets} {
			c.last = 0
		}
	}
	for _, e := range s.entries {
		e.bytes.last, e.packets.last = 0, 0
	}
	s.insertFailed.last, s.notParsed.last = 0, 0
}
