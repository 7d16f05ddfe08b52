//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/netctl/netctl/internal/nsutil"
)

// tcpChunk is the size of each write and read of a TCP flow.
const tcpChunk = 32 << 10

// tcpFlow connects from src to a one-shot echo server listening on f.DstAddr inside dst's
// namespace, sends opts.TCPBytes of a known pattern, half-closes, and reads the echo back
// until EOF, checking every byte. Both sockets are created inside their namespaces
// (nsutil.Do) and stay bound to them; every read and write has the ctx deadline.
func tcpFlow(ctx context.Context, src, dst *Namespace, f *FlowReport, opts TrafficOptions) {
	fail := func(format string, a ...any) { f.Errors = append(f.Errors, fmt.Sprintf(format, a...)) }
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(opts.FlowTimeout)
	}

	var ln *net.TCPListener
	err := nsutil.Do(dst.NS, func() error {
		l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(f.DstAddr, 0)))
		ln = l
		return err
	})
	if err != nil {
		fail("listen in %s: %v", dst.Name, err)
		return
	}
	defer ln.Close()
	f.DstPort = uint16(ln.Addr().(*net.TCPAddr).Port)
	if err := ln.SetDeadline(deadline); err != nil {
		fail("set accept deadline: %v", err)
		return
	}

	type serverResult struct {
		n   int64
		err error
	}
	srvc := make(chan serverResult, 1)
	wantSrc := f.SrcAddr
	go func() {
		n, err := echoOnce(ln, wantSrc, deadline)
		srvc <- serverResult{n, err}
	}()

	var conn *net.TCPConn
	err = nsutil.Do(src.NS, func() error {
		// Bind the lab address so the flow is the one reported even when another NIC
		// (nic add) would make the kernel pick a different source.
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: wantSrc.AsSlice()}}
		c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(f.DstAddr, f.DstPort).String())
		if err == nil {
			conn = c.(*net.TCPConn)
		}
		return err
	})
	if err != nil {
		_ = ln.Close() // unblocks the server
		fail("connect from %s: %v", src.Name, err)
		<-srvc
		return
	}
	defer conn.Close()
	local := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	f.SrcAddr, f.SrcPort = local.Addr().Unmap(), local.Port()
	if err := conn.SetDeadline(deadline); err != nil {
		fail("set deadline: %v", err)
		return
	}

	wc := make(chan error, 1)
	go func() {
		n, err := writePattern(conn, opts.TCPBytes)
		f.BytesSent = n // read by the caller only after <-wc
		if err == nil {
			err = conn.CloseWrite()
		}
		wc <- err
	}()
	got, rerr := readPattern(conn)
	if rerr != nil {
		_ = conn.Close() // unblocks the writer
	}
	werr := <-wc
	f.BytesReceived = got
	if werr != nil {
		fail("send: %v", werr)
	}
	if rerr != nil {
		fail("receive echo: %v", rerr)
	}
	srv := <-srvc
	f.PeerBytes = srv.n
	if srv.err != nil {
		fail("echo server in %s: %v", dst.Name, srv.err)
	}
}

// echoOnce accepts one connection from want, echoes it until EOF, half-closes, and returns
// how many bytes it received.
func echoOnce(ln *net.TCPListener, want netip.Addr, deadline time.Time) (int64, error) {
	c, err := ln.AcceptTCP()
	if err != nil {
		return 0, fmt.Errorf("accept: %w", err)
	}
	defer c.Close()
	if from := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(); from != want {
		return 0, fmt.Errorf("connection from %s, want %s", from, want)
	}
	if err := c.SetDeadline(deadline); err != nil {
		return 0, err
	}
	buf := make([]byte, tcpChunk)
	var total int64
	for {
		n, err := c.Read(buf)
		total += int64(n)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return total, fmt.Errorf("echo: %w", werr)
			}
		}
		if errors.Is(err, io.EOF) {
			return total, c.CloseWrite()
		}
		if err != nil {
			return total, fmt.Errorf("read: %w", err)
		}
	}
}

// patternByte is byte i of the stream a TCP flow sends; 251 is prime so that chunk
// boundaries never line up with the pattern.
func patternByte(i int64) byte { return byte(i % 251) }

func writePattern(w io.Writer, total int) (int64, error) {
	buf := make([]byte, tcpChunk)
	var sent int64
	for sent < int64(total) {
		n := min(len(buf), total-int(sent))
		for i := range n {
			buf[i] = patternByte(sent + int64(i))
		}
		m, err := w.Write(buf[:n])
		sent += int64(m)
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// readPattern reads until EOF and checks that the bytes are the pattern.
func readPattern(r io.Reader) (int64, error) {
	buf := make([]byte, tcpChunk)
	var got int64
	for {
		n, err := r.Read(buf)
		for i := range n {
			if buf[i] != patternByte(got+int64(i)) {
				return got + int64(i), fmt.Errorf("byte %d differs from what was sent", got+int64(i))
			}
		}
		got += int64(n)
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
	}
}
