//go:build linux

package lab

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTopology prints t as readable tables: per namespace its interfaces, bridge ports
// and routes.
func WriteTopology(w io.Writer, t *Topology) error {
	ew := &errWriter{w: w}
	ipv6 := "off"
	if t.IPv6 {
		ipv6 = "on"
	}
	fmt.Fprintf(ew, "lab %s (IPv6 %s)\n", t.Prefix, ipv6)
	for _, n := range t.Namespaces {
		fmt.Fprintf(ew, "\nnetns %s (%s)  ipv4 forwarding=%s  ipv6=%s\n", n.Name, n.Role, onOff(n.Forwarding), onOff(!n.IPv6Disabled))
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  INTERFACE\tTYPE\tSTATE\tMASTER\tMTU\tMAC\tADDRESSES")
		for _, i := range n.Interfaces {
			state := i.State
			if !i.AdminUp {
				state += " (admin down)"
			}
			addrs := make([]string, len(i.Addresses))
			for k, a := range i.Addresses {
				addrs[k] = a.String()
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\t%s\n", i.Name, i.Type, state, dash(i.Master), i.MTU, dash(i.MAC), dash(strings.Join(addrs, " ")))
		}
		tw.Flush()
		for _, b := range n.Bridges {
			fmt.Fprintf(ew, "  bridge %s ports: %s\n", b.Name, dash(strings.Join(b.Ports, " ")))
		}
		tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ROUTE\tVIA\tDEV\tSRC")
		for _, r := range n.Routes {
			dst := r.Dst.String()
			if r.Dst.Bits() == 0 {
				dst = "default"
				if r.Dst.Addr().Is6() {
					dst = "default (ipv6)"
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", dst, dashAddr(r.Gateway.IsValid(), r.Gateway.String()), dash(r.Dev), dashAddr(r.Src.IsValid(), r.Src.String()))
		}
		tw.Flush()
	}
	return ew.err
}

// WriteTraffic prints a traffic report as a table, one line per flow, followed by the
// errors of failed flows.
func WriteTraffic(w io.Writer, r *TrafficReport) error {
	ew := &errWriter{w: w}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FLOW\tPROTO\tFROM\tTO\tSENT\tRECEIVED\tLOSS\tTIME\tRESULT")
	for _, f := range r.Flows {
		to := f.DstAddr.String()
		if f.DstPort != 0 {
			to = fmt.Sprintf("%s port %d", to, f.DstPort)
		}
		res := "ok"
		if !f.OK {
			res = "FAILED"
		}
		fmt.Fprintf(tw, "%s -> %s\t%s\t%s\t%s\t%s\t%s\t%.1f%%\t%s\t%s\n",
			f.Src, f.Dst, f.Proto, f.SrcAddr, to,
			amount(f.Proto, f.PacketsSent, f.BytesSent), amount(f.Proto, f.PacketsReceived, f.BytesReceived),
			f.Loss*100, f.Duration.Round(100*time.Microsecond), res)
	}
	tw.Flush()
	for _, f := range r.Flows {
		for _, e := range f.Errors {
			fmt.Fprintf(ew, "%s -> %s %s: %s\n", f.Src, f.Dst, f.Proto, e)
		}
	}
	failed := len(r.Failed())
	fmt.Fprintf(ew, "%d of %d flows ok\n", len(r.Flows)-failed, len(r.Flows))
	return ew.err
}

// amount renders what a flow sent or received: packets and bytes for ICMP, bytes for TCP.
func amount(proto string, pkts int, bytes int64) string {
	if strings.HasPrefix(proto, "tcp") {
		return fmt.Sprintf("%d B", bytes)
	}
	return fmt.Sprintf("%d pkts / %d B", pkts, bytes)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func dashAddr(valid bool, s string) string {
	if !valid {
		return "-"
	}
	return s
}

// errWriter keeps the first write error so that the formatting code stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
