package exporter

import "context"

// Restart tells the collector that its source is about to count in other kernel maps
// (serve opened its maps again from new pins). It reads the source a last time (keeping
// what the old maps counted since the last scrape; a failed read is skipped), then, with
// no scrape or pass running, calls swap, and when swap reports that the maps changed,
// takes every kernel value it reads next as counted from zero. The exported counters so
// go on without going down and without counting twice.
func (c *Collector) Restart(swap func() (changed bool, err error)) error {
	c.Refresh() // a last pass over the old flow tables
	c.passMu.Lock()
	defer c.passMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.SnapshotTimeout)
	cnt, err := c.src.Counters(ctx)
	cancel()
	if err == nil {
		c.ifaces.apply(cnt.Interfaces, c.opts.Now(), c.opts.FlowIdleTimeout)
		c.insertFailed.add(cnt.InsertFailed, false)
		c.notParsed.add(cnt.NotParsed, false)
	}
	changed, err := swap()
	if changed {
		c.ifaces.restart()
		c.insertFailed.last, c.notParsed.last = 0, 0
		c.flows.restart()
	}
	return err
}

// restart makes every interface counter take its next raw value whole.
func (t ifaceTable) restart() {
	for _, st := range t {
		for _, c := range []*counter{&st.rxBytes, &st.rxPackets, &st.txBytes, &st.txPackets} {
			c.last = 0
		}
	}
}

// restart forgets every kernel entry, so that each counts whole when next read: the
// tables are new. The series keep their totals.
func (st *flowState) restart() {
	clear(st.entries.slots)
	st.entries.n = 0
	clear(st.side)
	clear(st.collided)
	st.baseline = 0
}
