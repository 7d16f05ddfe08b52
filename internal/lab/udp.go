//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/netctl/netctl/internal/nsutil"
)

// UDPEchoOptions describe one UDP echo exchange between two of the lab's namespaces.
type UDPEchoOptions struct {
	Server Role       // where the echo server runs (default container1)
	Client Role       // where the requests come from (default container2)
	Bind   netip.Addr // the server's address; invalid or 0.0.0.0: every address (a server bound to 0.0.0.0)
	To     netip.Addr // where the client sends (default: the server's eth0 address)
	Port   uint16     // the server's port (default 7777)
	// Count requests are sent one at a time, each waiting up to Timeout for its reply.
	Count   int           // default 10, at most MaxCount
	Timeout time.Duration // default 1s
}

// UDPEchoReport is what came back: every reply counts whatever its source, by source.
type UDPEchoReport struct {
	Server     Role           `json:"server"`
	Client     Role           `json:"client"`
	Bind       string         `json:"bind"` // as the server bound: "0.0.0.0:7777" or "172.17.0.2:7777"
	To         netip.AddrPort `json:"to"`
	ClientPort uint16         `json:"client_port"`
	Sent       int            `json:"sent"`
	Replies    map[string]int `json:"replies"` // reply source address → count
}

// WrongSource reports how many replies came from another address than To: a client
// that checks the source (a connected UDP socket, iperf3 -u, a DNS resolver) drops them.
func (r UDPEchoReport) WrongSource() int {
	n := 0
	for src, c := range r.Replies {
		if src != r.To.Addr().String() {
			n += c
		}
	}
	return n
}

// Summary says in one line what was sent and where the replies came from.
func (r UDPEchoReport) Summary() string {
	srcs := make([]string, 0, len(r.Replies))
	for s := range r.Replies {
		srcs = append(srcs, s)
	}
	slices.Sort(srcs)
	got := "no reply"
	for i, s := range srcs {
		if i == 0 {
			got = ""
		} else {
			got += ", "
		}
		got += fmt.Sprintf("%d from %s", r.Replies[s], s)
	}
	line := fmt.Sprintf("udp echo %s (bound to %s) ← %s: %d sent to %s, replies: %s", r.Server, r.Bind, r.Client, r.Sent, r.To, got)
	if n := r.WrongSource(); n > 0 {
		line += fmt.Sprintf(" — %d from another address than asked: a client that checks the source drops them", n)
	}
	return line
}

// EchoUDP runs a UDP echo server in one namespace of the lab and sends it requests from
// another, one at a time, recording where each reply came from. The client's socket is
// not connected, so it sees replies from any source. Both sockets are made inside their
// namespaces and closed before it returns.
func (l *Lab) EchoUDP(ctx context.Context, opts UDPEchoOptions) (UDPEchoReport, error) {
	if opts.Server == "" {
		opts.Server = RoleContainer1
	}
	if opts.Client == "" {
		opts.Client = RoleContainer2
	}
	srv, cli := l.Namespace(opts.Server), l.Namespace(opts.Client)
	if srv == nil || cli == nil {
		return UDPEchoReport{}, fmt.Errorf("udp echo: no namespace %s or %s in lab %s", opts.Server, opts.Client, l.Spec.Prefix)
	}
	if opts.Port == 0 {
		opts.Port = 7777
	}
	if !opts.To.IsValid() {
		opts.To = srv.Addr4
	}
	if opts.Count == 0 {
		opts.Count = 10
	}
	if opts.Timeout == 0 {
		opts.Timeout = time.Second
	}
	if opts.Count < 1 || opts.Count > MaxCount {
		return UDPEchoReport{}, fmt.Errorf("udp echo: invalid count %d: want 1 to %d", opts.Count, MaxCount)
	}
	bind := netip.IPv4Unspecified()
	if opts.To.Is6() {
		bind = netip.IPv6Unspecified()
	}
	if opts.Bind.IsValid() {
		bind = opts.Bind
	}
	r := UDPEchoReport{Server: opts.Server, Client: opts.Client, Bind: netip.AddrPortFrom(bind, opts.Port).String(),
		To: netip.AddrPortFrom(opts.To, opts.Port), Replies: map[string]int{}}

	network := "udp4" // a 0.0.0.0 socket, as the seed's iperf3 server: not dual-stack
	if opts.To.Is6() {
		network = "udp6"
	}
	var server, client net.PacketConn
	if err := nsutil.Do(srv.NS, func() (err error) { server, err = net.ListenPacket(network, r.Bind); return err }); err != nil {
		return r, fmt.Errorf("udp echo: listen on %s in %s: %w", r.Bind, srv.Name, err)
	}
	defer server.Close()
	go echo(server)
	if err := nsutil.Do(cli.NS, func() (err error) { client, err = net.ListenPacket(network, ":0"); return err }); err != nil {
		return r, fmt.Errorf("udp echo: client socket in %s: %w", cli.Name, err)
	}
	defer client.Close()
	r.ClientPort = uint16(client.LocalAddr().(*net.UDPAddr).Port)

	to := net.UDPAddrFromAddrPort(r.To)
	buf := make([]byte, 64)
	for seq := range opts.Count {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		msg := fmt.Appendf(nil, "netctl lab %d", seq)
		if _, err := client.WriteTo(msg, to); err != nil {
			return r, fmt.Errorf("udp echo: send to %s: %w", r.To, err)
		}
		r.Sent++
		if err := client.SetReadDeadline(time.Now().Add(opts.Timeout)); err != nil {
			return r, err
		}
		for {
			n, from, err := client.ReadFrom(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break // lost
			}
			if err != nil {
				return r, fmt.Errorf("udp echo: receive: %w", err)
			}
			if string(buf[:n]) == string(msg) {
				r.Replies[from.(*net.UDPAddr).AddrPort().Addr().Unmap().String()]++
				break
			}
		}
	}
	return r, nil
}

// echo answers every datagram on c with itself until c is closed.
func echo(c net.PacketConn) {
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		_, _ = c.WriteTo(buf[:n], from)
	}
}
