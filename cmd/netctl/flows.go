//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/probe"
)

func newFlowsCmd(g *globalOptions) *cobra.Command {
	var asym, wrong bool
	var idle time.Duration
	cmd := &cobra.Command{
		Use:   "flows [--asymmetric | --wrong-source] [--idle DURATION]",
		Short: "Live flows per interface, asymmetric ones marked",
		Long: `flows reads the flow table netctl pinned and prints each flow per container interface
and direction (the container's: receive = into it), addresses and ports as on the wire.

With --asymmetric it prints the conversations (a flow and its reverse) of each container
that arrive on one interface and leave on another, active within --idle, with the route
inside the container that sends them out (the seed's eth0-in / eth1-out) and the fix.

With --wrong-source it prints the conversations a container answers from another of its
addresses than the one they were sent to (a server bound to 0.0.0.0 in a container with
two addresses in one subnet: the client drops the replies), active within --idle, with
the route that chose the source and the fix.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case asym && wrong:
				return fmt.Errorf("--asymmetric and --wrong-source are two views: give one")
			case asym:
				return runFlowsAsymmetric(cmd, g, idle)
			case wrong:
				return runFlowsWrongSource(cmd, g, idle)
			}
			snap, err := readPinned(cmd, g)
			if err != nil {
				return err
			}
			slices.SortFunc(snap.Flows, func(a, b probe.Flow) int {
				return cmp.Or(cmp.Compare(a.Container, b.Container), cmp.Compare(a.Interface, b.Interface),
					cmp.Compare(a.Direction, b.Direction), cmp.Compare(b.Bytes, a.Bytes))
			})
			if g.json() {
				return writeJSON(cmd.OutOrStdout(), snap.Flows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CONTAINER\tINTERFACE\tDIRECTION\tPROTO\tSOURCE\tDESTINATION\tPACKETS\tBYTES\tLAST SEEN")
			for _, f := range snap.Flows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", f.Container, f.Interface, f.Direction, probe.ProtoName(f.Proto),
					endpoint(f.Src, f.SrcPort, f.Proto, true), endpoint(f.Dst, f.DstPort, f.Proto, false), f.Packets, f.Bytes, ago(snap.Time, f.LastSeen))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asym, "asymmetric", false, "only conversations that arrive on one interface and answer on another, with the route that does it")
	cmd.Flags().BoolVar(&wrong, "wrong-source", false, "only conversations the container answers from another address than the one asked, with the route that chose it")
	cmd.Flags().DurationVar(&idle, "idle", analysis.DefaultIdle, "with --asymmetric or --wrong-source: only conversations with traffic within this long (0: all)")
	return cmd
}

// runFlowsAsymmetric prints the asymmetric conversations of the pinned flow table.
func runFlowsAsymmetric(cmd *cobra.Command, g *globalOptions, idle time.Duration) error {
	if idle < 0 {
		return fmt.Errorf("invalid --idle %s: want 0 or more", idle)
	}
	snap, err := readPinned(cmd, g)
	if err != nil {
		return err
	}
	convs := analysis.DetectAsymmetric(snap.Flows, snap.Time, idle)
	analysis.FillReasons(convs)
	wrong := len(analysis.DetectWrongSource(snap.Flows, snap.Time, idle))
	if g.json() {
		if convs == nil {
			convs = []analysis.Conversation{}
		}
		return writeJSON(cmd.OutOrStdout(), convs)
	}
	out := cmd.OutOrStdout()
	if len(convs) == 0 {
		fmt.Fprintln(out, "no asymmetric conversations")
	} else {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CONTAINER\tPROTO\tLOCAL\tREMOTE\tINITIATOR\tIN\tOUT\tOUT BYTES\tREASON")
		for _, c := range convs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", c.Container, probe.ProtoName(c.Proto),
				convEndpoint(c.Local, c.LocalPort, c.Proto, false), convEndpoint(c.Remote, c.RemotePort, c.Proto, true),
				orDash(c.Initiator), c.InInterface, c.OutInterface, c.OutBytes, c.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if wrong > 0 { // answered from another address: not asymmetric by interface, as broken
		fmt.Fprintf(out, "%d conversation(s) answered from another address than the one asked: netctl flows --wrong-source\n", wrong)
	}
	return nil
}

// runFlowsWrongSource prints the wrong-source conversations of the pinned flow table.
func runFlowsWrongSource(cmd *cobra.Command, g *globalOptions, idle time.Duration) error {
	if idle < 0 {
		return fmt.Errorf("invalid --idle %s: want 0 or more", idle)
	}
	snap, err := readPinned(cmd, g)
	if err != nil {
		return err
	}
	ws := analysis.DetectWrongSource(snap.Flows, snap.Time, idle)
	analysis.FillWrongSourceReasons(ws)
	if g.json() {
		if ws == nil {
			ws = []analysis.WrongSource{}
		}
		return writeJSON(cmd.OutOrStdout(), ws)
	}
	if len(ws) == 0 {
		_, err := fmt.Fprintln(cmd.OutOrStdout(), "no conversations answered from another address")
		return err
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tPROTO\tREMOTE\tASKED\tANSWERED FROM\tIN\tOUT\tREPLIES\tREASON")
	for _, w := range ws {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", w.Container, probe.ProtoName(w.Proto),
			convEndpoint(w.Remote, w.RemotePort, w.Proto, true), convEndpoint(w.Requested, w.LocalPort, w.Proto, false),
			convEndpoint(w.RepliedFrom, w.LocalPort, w.Proto, false), w.InInterface, w.OutInterface, w.ReplyPackets, w.Reason)
	}
	return tw.Flush()
}

// convEndpoint formats one side of a conversation: address:port for TCP and UDP; for
// ICMP echo the identifier goes with the remote side.
func convEndpoint(a netip.Addr, port uint16, proto uint8, remote bool) string {
	switch {
	case probe.HasPorts(proto):
		return netip.AddrPortFrom(a, port).String()
	case probe.IsICMP(proto) && remote && port != 0:
		return fmt.Sprintf("%s id %d", a, port)
	}
	return a.String()
}

// endpoint formats one side of a flow; for ICMP the source port carries type and code
// and the destination port the echo identifier.
func endpoint(a netip.Addr, port uint16, proto uint8, src bool) string {
	switch {
	case probe.HasPorts(proto):
		return netip.AddrPortFrom(a, port).String()
	case probe.IsICMP(proto) && src:
		return fmt.Sprintf("%s type %d/%d", a, port>>8, port&0xff)
	case probe.IsICMP(proto):
		return fmt.Sprintf("%s id %d", a, port)
	}
	return a.String()
}

// ago says how long before now t was ("-" when unknown).
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(100*time.Millisecond).String() + " ago"
}
