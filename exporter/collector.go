package exporter

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/probe"
)

// Defaults of CollectorOptions.
const (
	DefaultFlowSeriesLimit = 1000
	DefaultFlowIdleTimeout = analysis.DefaultIdle
	DefaultSnapshotTimeout = 10 * time.Second
)

// Source reads the counters; *probe.Datapath is one.
type Source interface {
	Snapshot(ctx context.Context) (probe.Snapshot, error)
}

// CollectorOptions tune a Collector; the zero value takes the defaults.
type CollectorOptions struct {
	// FlowSeriesLimit bounds the flow series of one scrape (the label sets of
	// netctl_flow_*_total, both directions together): the ones with the most bytes are
	// kept. 0 means DefaultFlowSeriesLimit, a negative value no limit.
	FlowSeriesLimit int
	// FlowIdleTimeout is how long a flow series stays without traffic, and how long the
	// state of what vanished is kept (0: DefaultFlowIdleTimeout).
	FlowIdleTimeout time.Duration
	// SnapshotTimeout bounds one read of the source (0: DefaultSnapshotTimeout).
	SnapshotTimeout time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger gets a line when reading starts or stops failing and when the series limit
	// starts or stops dropping (nil: slog.Default()).
	Logger *slog.Logger
}

// Collector is a prometheus.Collector that reads a Source at each scrape and exports its
// counters as const metrics. Counters never go down while it lives: it adds the growth
// of each kernel entry, and an entry that restarted (LRU eviction, reset) adds its new
// value. Collect may be called concurrently.
type Collector struct {
	src  Source
	opts CollectorOptions

	mu           sync.Mutex
	st           *state
	scrapeErrors uint64
	failing      bool               // the last read failed
	dropping     bool               // the last scrape dropped flow series
	droppedTotal uint64             // flow series that began to be left out by the limit
	droppedNow   map[seriesKey]bool // series the last scrape left out
}

// NewCollector returns a Collector over src.
func NewCollector(src Source, opts CollectorOptions) *Collector {
	if opts.FlowSeriesLimit == 0 {
		opts.FlowSeriesLimit = DefaultFlowSeriesLimit
	}
	if opts.FlowIdleTimeout <= 0 {
		opts.FlowIdleTimeout = DefaultFlowIdleTimeout
	}
	if opts.SnapshotTimeout <= 0 {
		opts.SnapshotTimeout = DefaultSnapshotTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Collector{src: src, opts: opts, st: newState()}
}

// NewRegistry returns a registry with c, netctl_build_info and the Go and process
// collectors: what /metrics serves.
func NewRegistry(c *Collector, version, revision string) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(c, NewBuildInfo(version, revision),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

var (
	ifaceLabels = []string{"container", "interface", "host_interface", "bridge"}
	flowLabels  = []string{"container", "interface", "proto", "local", "remote", "port"}
	asymLabels  = []string{"container", "in_interface", "out_interface"}

	ifaceRxBytesDesc   = prometheus.NewDesc("netctl_interface_receive_bytes_total", "Bytes the interface received into the container.", ifaceLabels, nil)
	ifaceRxPacketsDesc = prometheus.NewDesc("netctl_interface_receive_packets_total", "Packets the interface received into the container.", ifaceLabels, nil)
	ifaceTxBytesDesc   = prometheus.NewDesc("netctl_interface_transmit_bytes_total", "Bytes the container transmitted on the interface.", ifaceLabels, nil)
	ifaceTxPacketsDesc = prometheus.NewDesc("netctl_interface_transmit_packets_total", "Packets the container transmitted on the interface.", ifaceLabels, nil)

	flowRxBytesDesc   = prometheus.NewDesc("netctl_flow_receive_bytes_total", "Bytes of the flow received into the container on the interface (port: the service port, the ephemeral side folded).", flowLabels, nil)
	flowRxPacketsDesc = prometheus.NewDesc("netctl_flow_receive_packets_total", "Packets of the flow received into the container on the interface (port: the service port, the ephemeral side folded).", flowLabels, nil)
	flowTxBytesDesc   = prometheus.NewDesc("netctl_flow_transmit_bytes_total", "Bytes of the flow the container transmitted on the interface (port: the service port, the ephemeral side folded).", flowLabels, nil)
	flowTxPacketsDesc = prometheus.NewDesc("netctl_flow_transmit_packets_total", "Packets of the flow the container transmitted on the interface (port: the service port, the ephemeral side folded).", flowLabels, nil)

	asymFlowsDesc = prometheus.NewDesc("netctl_asymmetric_flows", "Conversations of the container arriving on in_interface whose packets leave on out_interface, active within the flow idle timeout.", asymLabels, nil)
	asymBytesDesc = prometheus.NewDesc("netctl_asymmetric_bytes_total", "Bytes of asymmetric conversations that left the container on out_interface.", asymLabels, nil)

	attachedDesc           = prometheus.NewDesc("netctl_attached_interfaces", "Interfaces netctl counts.", nil, nil)
	unobservedDesc         = prometheus.NewDesc("netctl_bridge_ports_unobserved", "Ports of a watched bridge that carry no counters of netctl's: their traffic is invisible (0 normally).", []string{"bridge"}, nil)
	flowEntriesDesc        = prometheus.NewDesc("netctl_flow_table_entries", "Entries in the kernel's flow tables.", nil, nil)
	flowCapacityDesc       = prometheus.NewDesc("netctl_flow_table_capacity", "Capacity of the kernel's flow tables.", nil, nil)
	insertFailedDesc       = prometheus.NewDesc("netctl_flow_insert_failures_total", "Flows the kernel programs could not insert into a flow table.", nil, nil)
	notParsedDesc          = prometheus.NewDesc("netctl_packets_not_parsed_total", "Packets counted on their interface but not parsed into a flow.", nil, nil)
	seriesDroppedDesc      = prometheus.NewDesc("netctl_flow_series_dropped", "Flow series left out of this scrape by the flow series limit.", nil, nil)
	seriesDroppedTotalDesc = prometheus.NewDesc("netctl_flow_series_dropped_total", "Flow series the flow series limit began to leave out, each counted once.", nil, nil)
	snapshotDurDesc        = prometheus.NewDesc("netctl_snapshot_duration_seconds", "Time the last read of the kernel's maps took.", nil, nil)
	upDesc                 = prometheus.NewDesc("netctl_up", "Whether the last read of the kernel's maps succeeded.", nil, nil)
	scrapeErrorsDesc       = prometheus.NewDesc("netctl_scrape_errors_total", "Reads of the kernel's maps that failed.", nil, nil)
)

var allDescs = []*prometheus.Desc{
	ifaceRxBytesDesc, ifaceRxPacketsDesc, ifaceTxBytesDesc, ifaceTxPacketsDesc,
	flowRxBytesDesc, flowRxPacketsDesc, flowTxBytesDesc, flowTxPacketsDesc,
	asymFlowsDesc, asymBytesDesc,
	ifaceRxFloodedBytesDesc, ifaceRxFloodedPacketsDesc, bridgeFloodedBytesDesc, wrongFlowsDesc, wrongPacketsDesc,
	attachedDesc, unobservedDesc, flowEntriesDesc, flowCapacityDesc, insertFailedDesc, notParsedDesc,
	seriesDroppedDesc, seriesDroppedTotalDesc, snapshotDurDesc, upDesc, scrapeErrorsDesc,
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads the source and exports what it read.
// When the read fails only netctl_up (0), netctl_scrape_errors_total and the snapshot
// duration are exported.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	log := c.opts.Logger

	ctx, cancel := context.WithTimeout(context.Background(), c.opts.SnapshotTimeout)
	start := c.opts.Now()
	snap, err := c.src.Snapshot(ctx)
	now := c.opts.Now()
	cancel()
	ch <- prometheus.MustNewConstMetric(snapshotDurDesc, prometheus.GaugeValue, now.Sub(start).Seconds())
	if err != nil {
		c.scrapeErrors++
		if !c.failing {
			log.Warn("read counters", "err", err)
		}
		c.failing = true
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		ch <- prometheus.MustNewConstMetric(scrapeErrorsDesc, prometheus.CounterValue, float64(c.scrapeErrors))
		return
	}
	if c.failing {
		log.Info("read counters again")
	}
	c.failing = false
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(scrapeErrorsDesc, prometheus.CounterValue, float64(c.scrapeErrors))

	idle := c.opts.FlowIdleTimeout
	v := c.st.apply(snap, analysis.DetectAsymmetric(snap.Flows, now, idle), analysis.DetectWrongSource(snap.Flows, now, idle), now, idle)
	series, dropped := limitSeries(v.Series, c.opts.FlowSeriesLimit)
	c.countDropped(v.Series, series)
	if (dropped > 0) != c.dropping {
		log.Info("flow series limit", "limit", c.opts.FlowSeriesLimit, "series", len(v.Series), "dropped", dropped)
	}
	c.dropping = dropped > 0

	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	for _, i := range v.Ifaces {
		l := []string{i.Container, i.Interface, i.HostInterface, i.Bridge}
		counter(ifaceRxBytesDesc, i.RxBytes, l...)
		counter(ifaceRxPacketsDesc, i.RxPackets, l...)
		counter(ifaceTxBytesDesc, i.TxBytes, l...)
		counter(ifaceTxPacketsDesc, i.TxPackets, l...)
		counter(ifaceRxFloodedBytesDesc, i.RxFloodedBytes, l...)
		counter(ifaceRxFloodedPacketsDesc, i.RxFloodedPackets, l...)
	}
	collectFlood(ch, v.Flooded, v.Wrong)
	for _, s := range series {
		l := []string{s.Container, s.Interface, s.Proto, s.Local, s.Remote, s.Port}
		// A series exports the directions it has seen: a flow seen only one way (the
		// other way on another interface) has no zero series for the other.
		if s.RxBytes > 0 || s.RxPackets > 0 {
			counter(flowRxBytesDesc, s.RxBytes, l...)
			counter(flowRxPacketsDesc, s.RxPackets, l...)
		}
		if s.TxBytes > 0 || s.TxPackets > 0 {
			counter(flowTxBytesDesc, s.TxBytes, l...)
			counter(flowTxPacketsDesc, s.TxPackets, l...)
		}
	}
	for _, a := range v.Asym {
		ch <- prometheus.MustNewConstMetric(asymFlowsDesc, prometheus.GaugeValue, float64(a.Flows), a.Container, a.InInterface, a.OutInterface)
		counter(asymBytesDesc, a.Bytes, a.Container, a.InInterface, a.OutInterface)
	}
	gauge(attachedDesc, float64(len(snap.Interfaces)))
	for _, b := range snap.Bridges {
		ch <- prometheus.MustNewConstMetric(unobservedDesc, prometheus.GaugeValue, float64(b.Unobserved), b.Name)
	}
	gauge(flowEntriesDesc, float64(snap.FlowEntries))
	gauge(flowCapacityDesc, float64(snap.FlowCapacity))
	counter(insertFailedDesc, v.InsertFailed)
	counter(notParsedDesc, v.NotParsed)
	gauge(seriesDroppedDesc, float64(dropped))
	counter(seriesDroppedTotalDesc, c.droppedTotal)
}

// countDropped counts each flow series once when the limit starts leaving it out (it
// counts again only after it was kept in between), so the total does not grow with the
// number of scrapes or scrapers.
func (c *Collector) countDropped(all, kept []seriesView) {
	if len(all) == len(kept) {
		c.droppedNow = nil
		return
	}
	in := make(map[seriesKey]bool, len(kept))
	for _, s := range kept {
		in[s.seriesKey] = true
	}
	now := make(map[seriesKey]bool, len(all)-len(kept))
	for _, s := range all {
		if !in[s.seriesKey] {
			now[s.seriesKey] = true
			if !c.droppedNow[s.seriesKey] {
				c.droppedTotal++
			}
		}
	}
	c.droppedNow = now
}
