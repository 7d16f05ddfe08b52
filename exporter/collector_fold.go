package exporter

import (
	"net/netip"
	"strconv"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/probe"
)

// seriesKey is one flow series: the labels of netctl_flow_*_total.
type seriesKey struct {
	Container, Interface, Proto, Local, Remote, Port string
}

// entryKey is one kernel flow entry as a snapshot shows it.
type entryKey struct {
	Container, Interface, HostInterface string
	Direction                           probe.FlowDirection
	Proto                               uint8
	Src, Dst                            netip.Addr
	SrcPort, DstPort                    uint16
}

func entryKeyOf(f probe.Flow) entryKey {
	return entryKey{f.Container, f.Interface, f.HostInterface, f.Direction, f.Proto, f.Src, f.Dst, f.SrcPort, f.DstPort}
}

// foldFlows returns, for each flow, the series it counts into. Every flow of one
// conversation, on any interface of the container, gets the same port label, so the
// flows of many connections to one service fold into one series per interface and
// direction. The port label is the service port by analysis.ServicePorts, the rule
// analysis.DetectAsymmetric decides initiators by (the SYN's destination when the flags
// and stamps tell it, else the port below the ephemeral range 32768, else the
// destination of the direction seen first, else the lower port); "" for protocols
// without ports (ICMP and ICMPv6 fold type, code and echo id: one series per address
// pair) and for non-first fragments (both ports 0). It is pure.
func foldFlows(flows []probe.Flow) []seriesKey {
	ports := analysis.ServicePorts(flows)
	out := make([]seriesKey, len(flows))
	for i, f := range flows {
		k := analysis.KeyOf(f) // the addresses from the container's side
		port := ""
		if ports[i] >= 0 {
			port = strconv.Itoa(ports[i])
		}
		out[i] = seriesKey{Container: f.Container, Interface: f.Interface, Proto: probe.ProtoName(f.Proto),
			Local: k.Local.String(), Remote: k.Remote.String(), Port: port}
	}
	return out
}
