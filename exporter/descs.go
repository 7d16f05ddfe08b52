package exporter

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricDef is one metric the collector exports: its descriptor (Describe, Collect) and
// what a metric family of it (the fast path of NewGatherer) needs.
type metricDef struct {
	name, help string
	typ        dto.MetricType
	desc       *prometheus.Desc
}

func def(name, help string, typ dto.MetricType, labels ...string) *metricDef {
	return &metricDef{name: name, help: help, typ: typ, desc: prometheus.NewDesc(name, help, labels, nil)}
}

const (
	counterType = dto.MetricType_COUNTER
	gaugeType   = dto.MetricType_GAUGE
)

var (
	ifaceLabels = []string{"container", "interface", "host_interface", "bridge"}
	flowLabels  = []string{"container", "interface", "proto", "local", "remote", "port"}
	asymLabels  = []string{"container", "in_interface", "out_interface"}
	floodLabels = []string{"bridge", "container", "interface"}
	wrongLabels = []string{"container", "requested", "replied_from"}

	ifaceRxBytes   = def("netctl_interface_receive_bytes_total", "Bytes the interface received into the container.", counterType, ifaceLabels...)
	ifaceRxPackets = def("netctl_interface_receive_packets_total", "Packets the interface received into the container.", counterType, ifaceLabels...)
	ifaceTxBytes   = def("netctl_interface_transmit_bytes_total", "Bytes the container transmitted on the interface.", counterType, ifaceLabels...)
	ifaceTxPackets = def("netctl_interface_transmit_packets_total", "Packets the container transmitted on the interface.", counterType, ifaceLabels...)

	flowRxBytes   = def("netctl_flow_receive_bytes_total", "Bytes of the flow received into the container on the interface (port: the service port, the ephemeral side folded).", counterType, flowLabels...)
	flowRxPackets = def("netctl_flow_receive_packets_total", "Packets of the flow received into the container on the interface (port: the service port, the ephemeral side folded).", counterType, flowLabels...)
	flowTxBytes   = def("netctl_flow_transmit_bytes_total", "Bytes of the flow the container transmitted on the interface (port: the service port, the ephemeral side folded).", counterType, flowLabels...)
	flowTxPackets = def("netctl_flow_transmit_packets_total", "Packets of the flow the container transmitted on the interface (port: the service port, the ephemeral side folded).", counterType, flowLabels...)

	asymFlows = def("netctl_asymmetric_flows", "Conversations of the container arriving on in_interface whose packets leave on out_interface, active within the flow idle timeout.", gaugeType, asymLabels...)
	asymBytes = def("netctl_asymmetric_bytes_total", "Bytes of asymmetric conversations that left the container on out_interface.", counterType, asymLabels...)

	ifaceRxFloodedBytes   = def("netctl_interface_receive_flooded_bytes_total", "Bytes of frames for another MAC that a bridge flooded to the interface (part of the receive bytes; the container drops them).", counterType, ifaceLabels...)
	ifaceRxFloodedPackets = def("netctl_interface_receive_flooded_packets_total", "Frames for another MAC that a bridge flooded to the interface (part of the receive packets; the container drops them).", counterType, ifaceLabels...)
	bridgeFlooded         = def("netctl_bridge_flooded_bytes_total", "Bytes of the copies the bridge's watched ports received of frames it flooded for the interface's MAC (no FDB entry for it).", counterType, floodLabels...)
	wrongFlows            = def("netctl_wrong_source_flows", "Conversations the container answers from replied_from though they were sent to requested, active within the flow idle timeout.", gaugeType, wrongLabels...)
	wrongPackets          = def("netctl_wrong_source_packets_total", "Reply packets the container sent from replied_from in conversations sent to requested.", counterType, wrongLabels...)

	attached           = def("netctl_attached_interfaces", "Interfaces netctl counts.", gaugeType)
	unobserved         = def("netctl_bridge_ports_unobserved", "Ports of a watched bridge that carry no counters of netctl's: their traffic is invisible (0 normally).", gaugeType, "bridge")
	flowEntries        = def("netctl_flow_table_entries", "Entries in the kernel's flow tables.", gaugeType)
	flowCapacity       = def("netctl_flow_table_capacity", "Capacity of the kernel's flow tables.", gaugeType)
	insertFailed       = def("netctl_flow_insert_failures_total", "Flows the kernel programs could not insert into a flow table.", counterType)
	notParsed          = def("netctl_packets_not_parsed_total", "Packets counted on their interface but not parsed into a flow.", counterType)
	seriesDropped      = def("netctl_flow_series_dropped", "Flow series left out of this scrape by the flow series limit.", gaugeType)
	seriesDroppedTotal = def("netctl_flow_series_dropped_total", "Flow series the flow series limit began to leave out, each counted once.", counterType)
	tracked            = def("netctl_flow_tracked_series", "Flow series netctl keeps counters for, exported or not (at most the flow tracking limit).", gaugeType)
	untracked          = def("netctl_flow_untracked_entries", "Entries of the kernel's flow tables with traffic within the flow idle timeout whose flow series is not tracked (tracking limit reached): their traffic counts in the other series of their interface.", gaugeType)
	snapshotDur        = def("netctl_snapshot_duration_seconds", "Time the last read of the kernel's maps took.", gaugeType)
	up                 = def("netctl_up", "Whether the last read of the kernel's maps succeeded.", gaugeType)
	scrapeErrors       = def("netctl_scrape_errors_total", "Reads of the kernel's maps that failed.", counterType)
)

var allDefs = []*metricDef{
	ifaceRxBytes, ifaceRxPackets, ifaceTxBytes, ifaceTxPackets,
	flowRxBytes, flowRxPackets, flowTxBytes, flowTxPackets,
	asymFlows, asymBytes,
	ifaceRxFloodedBytes, ifaceRxFloodedPackets, bridgeFlooded, wrongFlows, wrongPackets,
	attached, unobserved, flowEntries, flowCapacity, insertFailed, notParsed,
	seriesDropped, seriesDroppedTotal, tracked, untracked, snapshotDur, up, scrapeErrors,
}

// defByName finds the def of a family's name.
var defByName = func() map[string]*metricDef {
	m := make(map[string]*metricDef, len(allDefs))
	for _, d := range allDefs {
		m[d.name] = d
	}
	return m
}()
