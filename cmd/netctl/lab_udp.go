//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"github.com/netctl/netctl/internal/lab"
)

func newLabUDPCmd(g *globalOptions, prefix *string) *cobra.Command {
	var bind, to string
	var count int
	var port uint16
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "udp [--bind ADDR] [--to ADDR] [--count N]",
		Short: "Run a UDP echo server in container1, ask it from container2, and say where the replies came from",
		Long: `udp runs a UDP echo server in container1, bound to --bind (default 0.0.0.0, like
iperf3's), sends --count requests to --to (default 172.17.0.2) from container2, one at a
time, and reports the source of every reply. After the seed's second NIC a server bound to
0.0.0.0 answers 172.17.0.2 from 172.17.0.99 (the seed's iperf3 -u failure); bound to
172.17.0.2 it answers from 172.17.0.2. It exits non-zero when a reply came from another
address than asked, or none came.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := lab.UDPEchoOptions{Count: count, Port: port, Timeout: timeout}
			for _, a := range []struct {
				flag, value string
				dst         *netip.Addr
			}{{"bind", bind, &opts.Bind}, {"to", to, &opts.To}} {
				if a.value == "" {
					continue
				}
				addr, err := netip.ParseAddr(a.value)
				if err != nil {
					return fmt.Errorf("invalid --%s %q: want an IP address", a.flag, a.value)
				}
				*a.dst = addr
			}
			if count < 1 || count > lab.MaxCount || timeout <= 0 || port == 0 {
				return fmt.Errorf("invalid --count %d, --timeout %s or --port %d: want 1 to %d, positive, 1 to 65535", count, timeout, port, lab.MaxCount)
			}
			var r lab.UDPEchoReport
			err := withLab(cmd, *prefix, func(ctx context.Context, l *lab.Lab) (err error) {
				r, err = l.EchoUDP(ctx, opts)
				return err
			})
			if err != nil {
				return err
			}
			if g.json() {
				if err := writeJSON(cmd.OutOrStdout(), r); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), r.Summary())
			}
			switch {
			case r.WrongSource() > 0:
				return fmt.Errorf("%d of %d replies came from another address than %s", r.WrongSource(), r.Sent, r.To.Addr())
			case len(r.Replies) == 0:
				return fmt.Errorf("no reply to %d requests", r.Sent)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&bind, "bind", "", "the server's address (default 0.0.0.0: every address)")
	f.StringVar(&to, "to", "", "where container2 sends (default container1's eth0 address, 172.17.0.2)")
	f.IntVarP(&count, "count", "c", 10, "requests, one at a time")
	f.Uint16Var(&port, "port", 7777, "the server's port")
	f.DurationVarP(&timeout, "timeout", "W", time.Second, "how long to wait for each reply")
	return cmd
}
