//go:build linux

// Package flood sends many distinct UDP flows from inside a network namespace, with a raw
// socket and sendmmsg: the load of the serve benchmarks and flood tests (a port scan, or
// many conversations with their replies). It is test tooling; it sends only where it is
// told, from the namespace it is given, and stops after Count datagrams or when its
// context ends.
package flood

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nsutil"
)

// Spec says which datagrams to send. Datagram i goes from Src:SrcPort(i) to Dst:DstPort(i)
// (see Ports), so Count datagrams make Count distinct flows when the port space allows.
type Spec struct {
	From     netns.NsHandle // namespace to send from
	Src, Dst netip.Addr     // IPv4 addresses
	// SrcBase and SrcPorts: datagram i has source port SrcBase + i%SrcPorts; DstBase:
	// destination port DstBase + i/SrcPorts (wrapping within 1..65535).
	SrcBase, DstBase uint16
	SrcPorts         int
	Count            int           // datagrams to send
	Payload          int           // UDP payload bytes (0: 16)
	Reverse          bool          // swap source and destination ports: the replies of another Spec
	Duration         time.Duration // spread the datagrams over this long (0: as fast as possible)
}

// Ports returns the source and destination port of datagram i.
func (s Spec) Ports(i int) (src, dst uint16) {
	n := max(s.SrcPorts, 1)
	src = wrap(int(s.SrcBase) + i%n)
	dst = wrap(int(s.DstBase) + i/n)
	if s.Reverse {
		return dst, src
	}
	return src, dst
}

// wrap keeps a port in 1..65535.
func wrap(p int) uint16 { return uint16((p-1)%65535 + 1) }

const batch = 256

// Send sends s.Count datagrams and returns how many it sent.
func Send(ctx context.Context, s Spec) (int, error) {
	if !s.Src.Is4() || !s.Dst.Is4() {
		return 0, errors.New("flood: IPv4 addresses only")
	}
	var fd int
	err := nsutil.Do(s.From, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("flood: raw socket: %w", err)
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)

	payload := s.Payload
	if payload <= 0 {
		payload = 16
	}
	size := 20 + 8 + payload
	bufs := make([]byte, batch*size)
	iovs := make([]unix.Iovec, batch)
	hdrs := make([]mmsghdr, batch)
	dst := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: s.Dst.As4()}
	for j := range batch {
		b := bufs[j*size : (j+1)*size]
		header(b, s.Src, s.Dst, size)
		iovs[j].Base = &b[0]
		iovs[j].SetLen(size)
		hdrs[j].hdr.Name = (*byte)(unsafePointer(&dst))
		hdrs[j].hdr.Namelen = unix.SizeofSockaddrInet4
		hdrs[j].hdr.Iov = &iovs[j]
		hdrs[j].hdr.SetIovlen(1)
	}
	start := time.Now()
	sent := 0
	for sent < s.Count {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		if s.Duration > 0 { // pace: datagram i leaves at start + i/Count × Duration
			due := start.Add(time.Duration(int64(s.Duration) * int64(sent) / int64(s.Count)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		n := min(batch, s.Count-sent)
		for j := range n {
			sp, dp := s.Ports(sent + j)
			b := bufs[j*size : (j+1)*size]
			binary.BigEndian.PutUint16(b[20:], sp)
			binary.BigEndian.PutUint16(b[22:], dp)
		}
		m, err := sendmmsg(fd, hdrs[:n])
		if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			return sent, fmt.Errorf("flood: sendmmsg: %w", err)
		}
		sent += m
	}
	return sent, nil
}

// header writes an IPv4 header (the kernel fills the checksum and id) and a UDP header
// without checksum (allowed over IPv4) for a datagram of size bytes.
func header(b []byte, src, dst netip.Addr, size int) {
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(size))
	b[8] = 64
	b[9] = unix.IPPROTO_UDP
	s4, d4 := src.As4(), dst.As4()
	copy(b[12:16], s4[:])
	copy(b[16:20], d4[:])
	binary.BigEndian.PutUint16(b[24:], uint16(size-20))
}
