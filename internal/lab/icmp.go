//go:build linux

package lab

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"github.com/netctl/netctl/internal/nsutil"
)

// ICMP echo message types.
const (
	icmpEchoRequest   = 8
	icmpEchoReply     = 0
	icmp6EchoRequest  = 128
	icmp6EchoReply    = 129
	icmpEchoHeaderLen = 8
)

// pingFlow sends opts.Count echo requests from src to f.DstAddr over a raw socket made
// inside src's namespace, one at a time, waiting up to opts.Timeout for each reply. A
// late reply that arrives while waiting for a later one still counts.
func pingFlow(ctx context.Context, src *Namespace, f *FlowReport, opts TrafficOptions) {
	v6 := f.DstAddr.Is6()
	// Bind the lab address: the flow is the one reported even when another NIC
	// (nic add) would make the kernel pick a different source.
	network, laddr := "ip4:icmp", f.SrcAddr.String()
	if v6 {
		network = "ip6:ipv6-icmp"
	}
	var conn net.PacketConn
	err := nsutil.Do(src.NS, func() error {
		c, err := net.ListenPacket(network, laddr)
		conn = c
		return err
	})
	if err != nil {
		f.Errors = append(f.Errors, fmt.Sprintf("open raw icmp socket in %s: %v", src.Name, err))
		return
	}
	defer conn.Close()

	f.ICMPID = uint16(rand.N(0xfffe) + 1)
	payload := make([]byte, opts.Size)
	for i := range payload {
		payload[i] = byte(i)
	}
	dst := &net.IPAddr{IP: net.IP(f.DstAddr.AsSlice())}
	got := make([]bool, opts.Count+1)
	buf := make([]byte, 1<<16)
	for seq := 1; seq <= opts.Count; seq++ {
		if err := ctx.Err(); err != nil {
			f.Errors = append(f.Errors, fmt.Sprintf("stopped after %d of %d requests: %v", seq-1, opts.Count, err))
			return
		}
		msg := echoRequest(v6, f.ICMPID, uint16(seq), payload)
		if _, err := conn.WriteTo(msg, dst); err != nil {
			f.Errors = append(f.Errors, fmt.Sprintf("send echo request %d: %v", seq, err))
			continue
		}
		f.PacketsSent++
		f.BytesSent += int64(len(msg))

		deadline := time.Now().Add(opts.Timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if err := conn.SetReadDeadline(deadline); err != nil {
			f.Errors = append(f.Errors, fmt.Sprintf("set read deadline: %v", err))
			return
		}
		for !got[seq] {
			n, from, err := conn.ReadFrom(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break // this request is lost unless its reply comes while waiting for a later one
			}
			if err != nil {
				f.Errors = append(f.Errors, fmt.Sprintf("receive echo reply: %v", err))
				return
			}
			ip, ok := from.(*net.IPAddr)
			if !ok || !ip.IP.Equal(dst.IP) {
				continue
			}
			id, rseq, data, ok := parseEchoReply(v6, buf[:n])
			if !ok || id != f.ICMPID || rseq < 1 || int(rseq) > opts.Count || got[rseq] || !bytes.Equal(data, payload) {
				continue
			}
			got[rseq] = true
			f.PacketsReceived++
			f.BytesReceived += int64(n)
		}
	}
}

// echoRequest builds an ICMP (or ICMPv6) echo request. The ICMPv4 checksum is filled in;
// for ICMPv6 the kernel computes it over the pseudo-header.
func echoRequest(v6 bool, id, seq uint16, payload []byte) []byte {
	b := make([]byte, icmpEchoHeaderLen+len(payload))
	b[0] = icmpEchoRequest
	if v6 {
		b[0] = icmp6EchoRequest
	}
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[icmpEchoHeaderLen:], payload)
	if !v6 {
		binary.BigEndian.PutUint16(b[2:], checksum(b))
	}
	return b
}

// parseEchoReply returns the identifier, sequence number and payload of an ICMP (or
// ICMPv6) echo reply message; ok is false for anything else or a bad ICMPv4 checksum.
func parseEchoReply(v6 bool, b []byte) (id, seq uint16, payload []byte, ok bool) {
	if len(b) < icmpEchoHeaderLen || b[1] != 0 {
		return 0, 0, nil, false
	}
	if v6 && b[0] != icmp6EchoReply || !v6 && (b[0] != icmpEchoReply || checksum(b) != 0) {
		return 0, 0, nil, false
	}
	return binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:]), b[icmpEchoHeaderLen:], true
}

// checksum is the Internet checksum (RFC 1071). Over a message whose checksum field is
// filled in correctly it returns 0.
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
