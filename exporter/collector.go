package exporter

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/probe"
)

// Defaults of CollectorOptions.
const (
	DefaultFlowSeriesLimit = 1000
	// DefaultTrackingFactor: unless told otherwise, the collector tracks this many times
	// the flow series it exports.
	DefaultTrackingFactor  = 10
	DefaultFlowIdleTimeout = analysis.DefaultIdle
	DefaultSnapshotTimeout = 10 * time.Second
	DefaultFlowReadWait    = 40 * time.Millisecond
)

// Source reads the counters; *probe.Datapath is one.
type Source interface {
	// Counters reads what every scrape exports fresh: the interface counters and the
	// datapath's own counts. Its cost follows the ports, not the flows.
	Counters(ctx context.Context) (probe.Counters, error)
	// ReadFlows calls fn with every entry of the flow tables (the *Entry is reused).
	ReadFlows(ctx context.Context, fn func(*probe.Entry)) (probe.FlowRead, error)
}

// CollectorOptions tune a Collector; the zero value takes the defaults.
type CollectorOptions struct {
	// FlowSeriesLimit bounds the flow series of one scrape (the label sets of
	// netctl_flow_*_total, both directions together): the ones with the most bytes are
	// kept. 0 means DefaultFlowSeriesLimit.
	FlowSeriesLimit int
	// FlowTrackingLimit bounds the flow series the collector keeps counters for, exported
	// or not (0: DefaultTrackingFactor × FlowSeriesLimit, at least FlowSeriesLimit). The
	// traffic of conversations beyond it counts in one "other" series per container and
	// interface (see seriesTable for the policy).
	FlowTrackingLimit int
	// FlowIdleTimeout is how long a flow series stays without traffic, and how long the
	// state of what vanished is kept (0: DefaultFlowIdleTimeout).
	FlowIdleTimeout time.Duration
	// SnapshotTimeout bounds one read of the source (0: DefaultSnapshotTimeout).
	SnapshotTimeout time.Duration
	// FlowReadWait is how long a scrape waits for the read of the flow tables it starts
	// (not at all when the last read took longer); past it, the scrape exports what the
	// last finished read found. The first read after start is waited for whole
	// (0: DefaultFlowReadWait).
	FlowReadWait time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger gets a line when reading starts or stops failing and when the series limit
	// starts or stops dropping (nil: slog.Default()).
	Logger *slog.Logger
}

// Collector is a prometheus.Collector over a Source, in the node_exporter model: at each
// scrape it reads the interface counters and exports const metrics. The flow tables,
// whose read costs with their size, are read by one pass at a time (passes.go), which
// a scrape starts and waits for a bounded time; the flow metrics it exports come from
// the last finished pass. Counters never go down while it lives: it adds the growth of
// each kernel entry, and an entry that restarted (LRU eviction, reset) adds its new
// value. Its memory is bounded by the kernel's table and FlowTrackingLimit (flowState).
// Collect may be called concurrently.
type Collector struct {
	src  Source
	opts CollectorOptions

	mu           sync.Mutex // what Collect updates
	ifaces       ifaceTable
	flooded      floodTable
	insertFailed counter
	notParsed    counter
	scrapeErrors uint64
	failing      bool // the last read failed

	passMu   sync.Mutex // one pass at a time; guards flows
	flows    *flowState
	view     atomic.Pointer[flowView] // what the last pass found
	sched    scheduler
	capacity atomic.Int64 // the flow tables' capacity, from the last Counters
	dropping bool         // the last pass dropped flow series (passMu)
}

// NewCollector returns a Collector over src.
func NewCollector(src Source, opts CollectorOptions) *Collector {
	if opts.FlowSeriesLimit <= 0 {
		opts.FlowSeriesLimit = DefaultFlowSeriesLimit
	}
	if opts.FlowTrackingLimit <= 0 {
		opts.FlowTrackingLimit = DefaultTrackingFactor * opts.FlowSeriesLimit
	}
	opts.FlowTrackingLimit = max(opts.FlowTrackingLimit, opts.FlowSeriesLimit)
	if opts.FlowIdleTimeout <= 0 {
		opts.FlowIdleTimeout = DefaultFlowIdleTimeout
	}
	if opts.SnapshotTimeout <= 0 {
		opts.SnapshotTimeout = DefaultSnapshotTimeout
	}
	if opts.FlowReadWait <= 0 {
		opts.FlowReadWait = DefaultFlowReadWait
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Collector{src: src, opts: opts, ifaces: ifaceTable{}, flooded: newFloodTable(),
		flows: newFlowState(opts.FlowTrackingLimit, opts.FlowIdleTimeout)}
}

// NewGatherer returns what /metrics serves: c's metric families as c builds them (the
// flow series once per pass, not checked again sample by sample at every scrape), with
// netctl_build_info, the Go and process collectors and the extra collectors (the
// daemon's own counters).
func NewGatherer(c *Collector, version, revision string, extra ...prometheus.Collector) prometheus.Gatherer {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewBuildInfo(version, revision),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(extra...)
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := reg.Gather()
		mfs = append(mfs, c.scrape()...)
		slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return cmp.Compare(a.GetName(), b.GetName()) })
		return mfs, err
	})
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDefs {
		ch <- d.desc
	}
}

// Collect implements prometheus.Collector: the families of a scrape, sample by sample.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, mf := range c.scrape() {
		d := defByName[mf.GetName()]
		for _, m := range mf.Metric {
			ch <- familyMetric{d.desc, m}
		}
	}
}

// scrape reads the counters, gets the flow tables' last pass (starting one) and returns
// the collector's metric families: those of the counters made now, the flow series and
// asymmetric series as the pass made them. When a read fails only netctl_up (0),
// netctl_scrape_errors_total and the snapshot duration are exported.
func (c *Collector) scrape() []*dto.MetricFamily {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.SnapshotTimeout)
	cnt, err := c.src.Counters(ctx)
	cancel()
	if err == nil {
		c.capacity.Store(int64(cnt.FlowCapacity))
	}
	v := c.freshView()
	if err == nil && v != nil && v.err != nil {
		err = v.err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	var f families
	var dur time.Duration
	if v != nil {
		dur = v.duration
	}
	f.add(snapshotDur, dur.Seconds(), nil)
	if err != nil {
		c.scrapeErrors++
		if !c.failing {
			c.opts.Logger.Warn("read counters", "err", err)
		}
		c.failing = true
		f.add(up, 0, nil)
		f.add(scrapeErrors, float64(c.scrapeErrors), nil)
		return f.list
	}
	if c.failing {
		c.opts.Logger.Info("read counters again")
	}
	c.failing = false
	f.add(up, 1, nil)
	f.add(scrapeErrors, float64(c.scrapeErrors), nil)

	for _, i := range c.ifaces.apply(cnt.Interfaces, c.opts.Now(), c.opts.FlowIdleTimeout) {
		l := labelPairs(ifaceRxBytes, i.Container, i.Interface, i.HostInterface, i.Bridge)
		f.add(ifaceRxBytes, float64(i.RxBytes), l)
		f.add(ifaceRxPackets, float64(i.RxPackets), l)
		f.add(ifaceTxBytes, float64(i.TxBytes), l)
		f.add(ifaceTxPackets, float64(i.TxPackets), l)
		f.add(ifaceRxFloodedBytes, float64(i.RxFloodedBytes), l)
		f.add(ifaceRxFloodedPackets, float64(i.RxFloodedPackets), l)
	}
	for _, fl := range c.flooded.apply(cnt.Flooded, c.opts.Now(), c.opts.FlowIdleTimeout) {
		f.add(bridgeFlooded, float64(fl.Bytes), labelPairs(bridgeFlooded, fl.Bridge, fl.Container, fl.Interface))
	}
	c.insertFailed.add(cnt.InsertFailed, false)
	c.notParsed.add(cnt.NotParsed, false)
	f.add(attached, float64(len(cnt.Interfaces)), nil)
	f.add(flowCapacity, float64(cnt.FlowCapacity), nil)
	f.add(insertFailed, float64(c.insertFailed.total), nil)
	f.add(notParsed, float64(c.notParsed.total), nil)
	if v == nil { // no read of the flow tables has finished yet
		return f.list
	}
	for _, b := range v.bridges {
		f.add(unobserved, float64(b.Unobserved), labelPairs(unobserved, b.Name))
	}
	f.add(flowEntries, float64(v.entries), nil)
	f.add(seriesDropped, float64(v.dropped), nil)
	f.add(seriesDroppedTotal, float64(v.droppedTotal), nil)
	f.add(tracked, float64(v.tracked), nil)
	f.add(untracked, float64(v.untracked), nil)
	return append(f.list, v.families...)
}
