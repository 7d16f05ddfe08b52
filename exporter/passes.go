package exporter

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/probe"
)

// MaxFlowsLimit is the most flows or conversations a pass keeps for /flows: the hard
// maximum of its ?limit=.
const MaxFlowsLimit = 1000

// flowView is what one pass over the flow tables found, ready to export: it is not
// changed after it is published, so scrapes and /flows share it without locks.
type flowView struct {
	err          error
	duration     time.Duration
	entries      int
	bridges      []probe.BridgeStatus
	families     []*dto.MetricFamily // the kept flow series, the other series, the asymmetric series
	dropped      int
	droppedTotal uint64
	tracked      int
	untracked    int
	flows        []probe.Flow            // the MaxFlowsLimit entries with the most bytes, most first
	convs        []analysis.Conversation // the asymmetric conversations, most bytes out first, at most MaxFlowsLimit
}

// scheduler starts passes: one at a time, and, when they are long (FlowReadWait or
// more), not again sooner than 8 times the last one's duration after it started, so
// however often scrapes and /flows come, reading large flow tables takes at most about an
// eighth of a CPU.
type scheduler struct {
	mu        sync.Mutex
	running   chan struct{} // closed when the running pass ends; nil: none
	lastStart time.Time
	lastDur   time.Duration
	closed    bool // Close: no more passes
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// requestPass starts a pass unless one runs or the last one is recent, and returns a
// channel closed when the pass that will serve the caller ends.
func (c *Collector) requestPass() <-chan struct{} {
	s := &c.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running != nil {
		return s.running
	}
	if s.closed {
		return closedChan
	}
	if c.view.Load() != nil && s.lastDur >= c.opts.FlowReadWait && time.Since(s.lastStart) < 8*s.lastDur {
		return closedChan
	}
	done := make(chan struct{})
	s.running, s.lastStart = done, time.Now()
	go func() {
		c.runPass()
		s.mu.Lock()
		s.running, s.lastDur = nil, time.Since(s.lastStart)
		s.mu.Unlock()
		close(done)
	}()
	return done
}

// freshView starts a pass (requestPass) and returns the last finished pass's view (nil
// when none finished yet). It waits for the pass at most FlowReadWait, and not at all
// when the last one took longer than that; but it waits for the first pass, however
// long, so the first scrape has the flows.
func (c *Collector) freshView() *flowView {
	done := c.requestPass()
	c.sched.mu.Lock()
	last := c.sched.lastDur
	c.sched.mu.Unlock()
	wait := c.opts.FlowReadWait
	switch {
	case c.view.Load() == nil:
		wait = c.opts.SnapshotTimeout
	case last >= c.opts.FlowReadWait:
		wait = 0
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	return c.view.Load()
}

// Prefetch starts a read of the flow tables unless one runs, without waiting for it.
func (c *Collector) Prefetch() { c.requestPass() }

// Refresh reads the flow tables now and waits for it: what the daemon does before it
// saves the collector's memory on the way out.
func (c *Collector) Refresh() { c.runPass() }

// Close stops starting passes in the background and waits for the running one, if any:
// after it the source is read only by Refresh, so the caller can close the source once
// it has no more use for the collector.
func (c *Collector) Close() {
	c.sched.mu.Lock()
	c.sched.closed = true
	running := c.sched.running
	c.sched.mu.Unlock()
	if running != nil {
		<-running
	}
}

// runPass reads the flow tables once, folds them into the flow state and publishes the
// view.
func (c *Collector) runPass() {
	c.passMu.Lock()
	defer c.passMu.Unlock()
	st := c.flows
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.SnapshotTimeout)
	defer cancel()
	start := c.opts.Now()
	if c.capacity.Load() == 0 { // the buffers are made once, for the tables' capacity
		if cnt, err := c.src.Counters(ctx); err == nil {
			c.capacity.Store(int64(cnt.FlowCapacity))
		}
	}
	st.begin(int(c.capacity.Load()))
	read, err := c.src.ReadFlows(ctx, st.add)
	now := c.opts.Now()
	if err != nil {
		c.view.Store(&flowView{err: err, duration: now.Sub(start)})
		return
	}
	st.resolve(read, now)
	st.apply()
	v := c.buildView(read.Entries)
	v.bridges = read.Bridges
	v.duration = c.opts.Now().Sub(start)
	c.view.Store(v)
}

// buildView makes the view of the pass just applied: the series limit picks the flow
// series to export.
func (c *Collector) buildView(entries int) *flowView {
	st := c.flows
	now, idle := st.pass.now, st.idle
	v := &flowView{entries: entries, tracked: st.series.n, untracked: st.pass.untracked}

	// The flow series active within idle; the limit keeps those with the most bytes.
	var active []int32
	for id := range st.series.all {
		if s := &st.series.all[id]; s.used && s.active != 0 && now-s.active <= idle {
			active = append(active, int32(id))
		}
	}
	kept := active
	if len(active) > c.opts.FlowSeriesLimit {
		slices.SortFunc(active, func(a, b int32) int {
			x, y := &st.series.all[a], &st.series.all[b]
			return cmp.Or(cmp.Compare(y.RxBytes+y.TxBytes, x.RxBytes+x.TxBytes), compareLabels(x.labels, y.labels))
		})
		kept = active[:c.opts.FlowSeriesLimit]
		v.dropped = len(active) - len(kept)
		for _, id := range active[len(kept):] { // counted once when the limit begins to leave it out
			if s := &st.series.all[id]; !s.dropped {
				s.dropped = true
				st.droppedTotal++
			}
		}
	}
	if (v.dropped > 0) != c.dropping {
		c.opts.Logger.Info("flow series limit", "limit", c.opts.FlowSeriesLimit, "series", len(active), "dropped", v.dropped)
	}
	c.dropping = v.dropped > 0
	v.droppedTotal = st.droppedTotal

	var f families
	flow := func(t *traffic, pairs []*dto.LabelPair) {
		// A series exports the directions it has seen: a flow seen only one way (the other
		// way on another interface) has no zero series for the other.
		if t.RxBytes > 0 || t.RxPackets > 0 {
			f.add(flowRxBytes, float64(t.RxBytes), pairs)
			f.add(flowRxPackets, float64(t.RxPackets), pairs)
		}
		if t.TxBytes > 0 || t.TxPackets > 0 {
			f.add(flowTxBytes, float64(t.TxBytes), pairs)
			f.add(flowTxPackets, float64(t.TxPackets), pairs)
		}
	}
	slices.SortFunc(kept, func(a, b int32) int { return compareLabels(st.series.all[a].labels, st.series.all[b].labels) })
	for _, id := range kept {
		s := &st.series.all[id]
		s.dropped = false
		flow(&s.traffic, s.labels.pairs)
	}
	for i := range st.labels.pairs {
		if p := &st.labels.pairs[i]; p.used && p.otherActive != 0 && now-p.otherActive <= idle {
			if p.otherPairs == nil {
				p.otherPairs = labelPairs(flowRxBytes, p.container, p.iface, OtherProto, "", "", "")
			}
			flow(&p.other, p.otherPairs)
		}
	}
	for k, a := range st.asym {
		if now-a.active <= idle {
			in, out := &st.labels.pairs[k[0]], &st.labels.pairs[k[1]]
			l := labelPairs(asymFlows, in.container, in.iface, out.iface)
			f.add(asymFlows, float64(a.flows), l)
			f.add(asymBytes, float64(a.bytes), l)
		}
	}
	for k, w := range st.wrong {
		l := labelPairs(wrongFlows, k.Container, k.Requested, k.RepliedFrom)
		f.add(wrongFlows, float64(w.flows), l)
		f.add(wrongPackets, float64(w.packets), l)
	}
	v.families = f.list
	v.flows = c.topFlows()
	v.convs = c.conversations()
	return v
}

// OtherProto is the proto label of the other series: the traffic of a container's
// interface whose flow series are not tracked (local, remote and port are "").
const OtherProto = "other"

func compareLabels(a, b *seriesLabels) int {
	return cmp.Or(cmp.Compare(a.container, b.container), cmp.Compare(a.iface, b.iface), cmp.Compare(a.proto, b.proto),
		cmp.Compare(a.local, b.local), cmp.Compare(a.remote, b.remote), cmp.Compare(a.port, b.port))
}
