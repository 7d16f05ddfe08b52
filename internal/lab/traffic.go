//go:build linux

package lab

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// TrafficOptions bound what Traffic sends. Zero fields take the defaults.
type TrafficOptions struct {
	Count       int           `json:"count"`        // ICMP echo requests per ping flow (default 10)
	Size        int           `json:"size"`         // ICMP echo payload bytes (default 56, like ping)
	TCPBytes    int           `json:"tcp_bytes"`    // bytes each TCP flow sends and expects echoed back (default 256 KiB)
	Timeout     time.Duration `json:"timeout"`      // how long to wait for each echo reply (default 1s)
	FlowTimeout time.Duration `json:"flow_timeout"` // upper bound of one flow (default 30s)
}

// Limits of TrafficOptions.
const (
	MaxCount       = 10000
	MaxSize        = 65000
	MaxTCPBytes    = 64 << 20
	MaxFlowTimeout = 10 * time.Minute
)

// Resolve fills in zero fields with the defaults and validates the result (pure). Zero
// means "default", so a Size of 0 gives 56-byte payloads.
func (o TrafficOptions) Resolve() (TrafficOptions, error) {
	if o.Count == 0 {
		o.Count = 10
	}
	if o.Size == 0 {
		o.Size = 56
	}
	if o.TCPBytes == 0 {
		o.TCPBytes = 256 << 10
	}
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	if o.FlowTimeout == 0 {
		o.FlowTimeout = 30 * time.Second
	}
	switch {
	case o.Count < 1 || o.Count > MaxCount:
		return o, fmt.Errorf("invalid count %d: want 1 to %d", o.Count, MaxCount)
	case o.Size < 1 || o.Size > MaxSize:
		return o, fmt.Errorf("invalid size %d: want 1 to %d bytes", o.Size, MaxSize)
	case o.TCPBytes < 1 || o.TCPBytes > MaxTCPBytes:
		return o, fmt.Errorf("invalid tcp bytes %d: want 1 to %d", o.TCPBytes, MaxTCPBytes)
	case o.Timeout < time.Millisecond || o.Timeout > time.Minute:
		return o, fmt.Errorf("invalid timeout %s: want 1ms to 1m", o.Timeout)
	case o.FlowTimeout < o.Timeout || o.FlowTimeout > MaxFlowTimeout:
		return o, fmt.Errorf("invalid flow timeout %s: want %s to %s", o.FlowTimeout, o.Timeout, MaxFlowTimeout)
	}
	return o, nil
}

// TrafficReport is what Traffic sent and what came back, flow by flow.
type TrafficReport struct {
	Prefix  string         `json:"prefix"`
	Options TrafficOptions `json:"options"`
	Flows   []FlowReport   `json:"flows"`
}

// FlowReport is one flow of Traffic. For ICMP flows bytes are ICMP message bytes (8-byte
// header plus payload; add the IP header, 20 or 40 bytes, and 14 for Ethernet to compare
// with link counters). For TCP flows bytes are stream payload bytes.
type FlowReport struct {
	Proto           string        `json:"proto"` // icmp, tcp, icmp6, tcp6
	Src             Role          `json:"src"`
	Dst             Role          `json:"dst"`
	SrcNS           string        `json:"src_netns"`
	DstNS           string        `json:"dst_netns"`
	SrcAddr         netip.Addr    `json:"src_addr"`
	DstAddr         netip.Addr    `json:"dst_addr"`
	SrcPort         uint16        `json:"src_port,omitempty"` // tcp
	DstPort         uint16        `json:"dst_port,omitempty"` // tcp
	ICMPID          uint16        `json:"icmp_id,omitempty"`  // echo identifier of an icmp flow
	PacketsSent     int           `json:"packets_sent"`       // echo requests (icmp)
	PacketsReceived int           `json:"packets_received"`   // matching echo replies (icmp)
	BytesSent       int64         `json:"bytes_sent"`
	BytesReceived   int64         `json:"bytes_received"` // icmp: reply bytes; tcp: bytes echoed back
	PeerBytes       int64         `json:"peer_bytes,omitempty"`
	Loss            float64       `json:"loss"` // 0..1: lost replies (icmp) or bytes not echoed (tcp)
	Duration        time.Duration `json:"duration_ns"`
	OK              bool          `json:"ok"`
	Errors          []string      `json:"errors,omitempty"`
}

// Failed returns the flows that did not fully succeed.
func (r *TrafficReport) Failed() []FlowReport {
	var out []FlowReport
	for _, f := range r.Flows {
		if !f.OK {
			out = append(out, f)
		}
	}
	return out
}

// Err returns an error naming the failed flows, or nil if every flow succeeded.
func (r *TrafficReport) Err() error {
	failed := r.Failed()
	if len(failed) == 0 {
		return nil
	}
	f := failed[0]
	return fmt.Errorf("lab traffic %s: %d of %d flows failed (first: %s -> %s %s)", r.Prefix, len(failed), len(r.Flows), f.Src, f.Dst, f.Proto)
}

// flowSpec is one flow Traffic runs.
type flowSpec struct {
	proto    string
	src, dst Role
	dstAddr  netip.Addr
}

// flows lists the flows of a lab (pure): container2 -> container1, outside -> container1
// and container1 -> outside, each ping then TCP, over IPv4 and, in an IPv6 lab, IPv6.
// Every destination is an address of the lab's own namespaces.
func flows(s Spec) []flowSpec {
	pairs := [][2]Role{{RoleContainer2, RoleContainer1}, {RoleOutside, RoleContainer1}, {RoleContainer1, RoleOutside}}
	var out []flowSpec
	for _, v6 := range []bool{false, true} {
		if v6 && !s.IPv6 {
			break
		}
		suffix := ""
		if v6 {
			suffix = "6"
		}
		for _, p := range pairs {
			for _, proto := range []string{"icmp", "tcp"} {
				out = append(out, flowSpec{proto: proto + suffix, src: p[0], dst: p[1], dstAddr: s.Addr(p[1], v6)})
			}
		}
	}
	return out
}

// finish sets Loss and OK from the counts (pure).
func (f *FlowReport) finish(opts TrafficOptions) {
	switch f.Proto {
	case "icmp", "icmp6":
		if f.PacketsSent > 0 {
			f.Loss = 1 - float64(f.PacketsReceived)/float64(f.PacketsSent)
		} else {
			f.Loss = 1
		}
		f.OK = len(f.Errors) == 0 && f.PacketsSent == opts.Count && f.PacketsReceived == f.PacketsSent
	default:
		if f.BytesSent > 0 {
			f.Loss = 1 - float64(f.BytesReceived)/float64(f.BytesSent)
		} else {
			f.Loss = 1
		}
		want := int64(opts.TCPBytes)
		f.OK = len(f.Errors) == 0 && f.BytesSent == want && f.PeerBytes == want && f.BytesReceived == want
	}
	if f.Loss < 0 {
		f.Loss = 0
	}
}

// Traffic sends bounded traffic between the lab's namespaces and reports, per flow, what
// was sent and what came back. Flows run one after another, each bounded by
// opts.FlowTimeout. The error is non-nil only for invalid options or a cancelled ctx;
// failed flows are in the report (see TrafficReport.Err).
func (l *Lab) Traffic(ctx context.Context, opts TrafficOptions) (*TrafficReport, error) {
	opts, err := opts.Resolve()
	if err != nil {
		return nil, err
	}
	r := &TrafficReport{Prefix: l.Spec.Prefix, Options: opts}
	for _, fs := range flows(l.Spec) {
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("lab traffic %s: %w", l.Spec.Prefix, err)
		}
		src, dst := l.Namespace(fs.src), l.Namespace(fs.dst)
		f := FlowReport{
			Proto: fs.proto, Src: fs.src, Dst: fs.dst, SrcNS: src.Name, DstNS: dst.Name,
			SrcAddr: l.Spec.Addr(fs.src, fs.dstAddr.Is6()), DstAddr: fs.dstAddr,
		}
		fctx, cancel := context.WithTimeout(ctx, opts.FlowTimeout)
		start := time.Now()
		switch fs.proto {
		case "icmp", "icmp6":
			pingFlow(fctx, src, &f, opts)
		default:
			tcpFlow(fctx, src, dst, &f, opts)
		}
		cancel()
		f.Duration = time.Since(start)
		f.finish(opts)
		r.Flows = append(r.Flows, f)
	}
	return r, nil
}
