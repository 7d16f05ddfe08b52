package exporter

import (
	"net/netip"
	"strconv"

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

// foldConv is a conversation of a container seen from the container, across its
// interfaces, as the folding groups it.
type foldConv struct {
	Container             string
	Proto                 uint8
	Local, Remote         netip.Addr
	LocalPort, RemotePort uint16 // 0 for protocols without ports
}

// foldConvOf returns the conversation a flow belongs to, and whether the flow goes into
// the container (receive).
func foldConvOf(f probe.Flow) (foldConv, bool) {
	in := f.Direction == probe.Receive
	k := foldConv{Container: f.Container, Proto: f.Proto, Local: f.Src, Remote: f.Dst, LocalPort: f.SrcPort, RemotePort: f.DstPort}
	if in {
		k.Local, k.Remote, k.LocalPort, k.RemotePort = f.Dst, f.Src, f.DstPort, f.SrcPort
	}
	if !cvHasPorts(f.Proto) {
		k.LocalPort, k.RemotePort = 0, 0
	}
	return k, in
}

// foldFlows returns, for each flow, the series it counts into. Every flow of one
// conversation, on any interface of the container, gets the same port label, so the
// flows of many connections to one service fold into one series per interface and
// direction. The port label is the service port by ServiceIsLocal, the rule
// DetectAsymmetric decides initiators by (the SYN's destination when the flags and
// stamps tell it, else the port below the ephemeral range 32768, else the destination
// of the direction seen first, else the lower port); "" for protocols without ports
// (ICMP and ICMPv6 fold type, code and echo id: one series per address pair) and for
// non-first fragments (both ports 0). It is pure.
func foldFlows(flows []probe.Flow) []seriesKey {
	sides := map[foldConv]*[2]Side{} // [0] into the container, [1] out of it
	for _, f := range flows {
		k, in := foldConvOf(f)
		o := sides[k]
		if o == nil {
			o = &[2]Side{}
			sides[k] = o
		}
		if in {
			o[0].Add(f)
		} else {
			o[1].Add(f)
		}
	}
	out := make([]seriesKey, len(flows))
	for i, f := range flows {
		k, _ := foldConvOf(f)
		port := ""
		if cvHasPorts(k.Proto) && (k.LocalPort != 0 || k.RemotePort != 0) {
			o := sides[k]
			p := k.RemotePort
			if ServiceIsLocal(k.Proto, k.LocalPort, k.RemotePort, o[0], o[1]) {
				p = k.LocalPort
			}
			port = strconv.Itoa(int(p))
		}
		out[i] = seriesKey{Container: f.Container, Interface: f.Interface, Proto: protoName(f.Proto),
			Local: k.Local.String(), Remote: k.Remote.String(), Port: port}
	}
	return out
}

// protoName names an IP protocol for the proto label: tcp, udp, icmp, icmpv6, or its number.
func protoName(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1:
		return "icmp"
	case 58:
		return "icmpv6"
	}
	return strconv.Itoa(int(p))
}
