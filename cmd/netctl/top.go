//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/internal/top"
	"github.com/netctl/netctl/probe"
)

func newTopCmd(g *globalOptions) *cobra.Command {
	var interval, idle time.Duration
	var once bool
	cmd := &cobra.Command{
		Use:   "top [--interval 1s] [--once]",
		Short: "A live view of interfaces, flows and problems, read from the pinned maps",
		Long: `top shows, refreshed every --interval, the receive and transmit rates of every counted
container interface, the flows by rate, and the problems found: asymmetric conversations
(in on one interface, replies out another) with the route that causes them and the fix.
It reads the maps 'netctl attach' or 'netctl serve' pinned for the host namespace (-n);
no exporter is needed. Rates are the difference of two readings.

Keys: 1 2 3 or tab switch views, s sorts by the next column and r reverses, / filters by
container (esc clears), space or p pauses, ? shows every key, q or ctrl+c quits.
NO_COLOR=1 turns colors off.

--once prints one frame (rates over --interval) and exits; with -o json it prints that
frame as JSON, for scripts (-o json implies --once).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < 10*time.Millisecond || interval > time.Hour {
				return fmt.Errorf("invalid --interval %s: want 10ms to 1h", interval)
			}
			if idle < 0 {
				return fmt.Errorf("invalid --idle %s: want 0 or more", idle)
			}
			host, _, err := openHost(g)
			if err != nil {
				return err
			}
			defer host.Close()
			ctx, src := cmd.Context(), pinnedSource{host: host, idle: idle, opts: g.probeOptions()}
			first, err := src.Sample(ctx) // fail here, before the screen changes
			if err != nil {
				return err
			}
			title := "netns " + g.netns
			if g.netns == "" {
				title = "this netns"
			}
			color := !top.NoColor(os.Getenv)
			if once || g.json() {
				return runTopOnce(cmd, g, src, first, interval, title, color)
			}
			if !term.IsTerminal(os.Stdout.Fd()) {
				return fmt.Errorf("top needs a terminal: use --once, or --once -o json")
			}
			m := top.New(ctx, top.Options{Source: src, Interval: interval, Title: title, First: first, Color: color})
			_, err = tea.NewProgram(m, tea.WithContext(ctx)).Run()
			if errors.Is(err, tea.ErrInterrupted) || (errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil) {
				return nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.DurationVar(&interval, "interval", time.Second, "time between two readings")
	f.BoolVar(&once, "once", false, "print one frame (rates over --interval) and exit")
	f.DurationVar(&idle, "idle", time.Minute, "problems: only conversations with traffic within this long (0: all)")
	return cmd
}

// runTopOnce reads a second sample --interval after first and prints the frame.
func runTopOnce(cmd *cobra.Command, g *globalOptions, src top.Source, first top.Sample, interval time.Duration, title string, color bool) error {
	select {
	case <-cmd.Context().Done():
		return cmd.Context().Err()
	case <-time.After(interval):
	}
	second, err := src.Sample(cmd.Context())
	if err != nil {
		return err
	}
	frame := top.Rates(first, second)
	if g.json() {
		return writeJSON(cmd.OutOrStdout(), frame)
	}
	width := 80
	if w, _, err := term.GetSize(os.Stdout.Fd()); err == nil && w > 0 {
		width = w
	}
	_, err = lipgloss.Fprint(cmd.OutOrStdout(), top.Text(frame, title, width, 10, top.NewStyles(color)))
	return err
}

// pinnedSource reads top's samples from the maps pinned for one host namespace. It is
// the only place top touches probe and exporter.
type pinnedSource struct {
	host netns.NsHandle
	idle time.Duration
	opts probe.Options
}

// Sample reads the pinned maps and finds the asymmetric conversations and their reasons.
func (s pinnedSource) Sample(ctx context.Context) (top.Sample, error) {
	start := time.Now()
	snap, err := probe.ReadPinned(ctx, s.host, s.opts)
	if err != nil {
		return top.Sample{}, err
	}
	convs := analysis.DetectAsymmetric(snap.Flows, snap.Time, s.idle)
	fillReasons(convs)
	out := topSample(snap, convs)
	out.ReadStart = start
	return out, nil
}

// fillReasons sets each conversation's reason, asking each distinct question once: the
// route lookup behind a reason depends on the container, the two addresses, the two
// interfaces and who began, not on the ports, and a busy server has a conversation per
// client (top asks every --interval).
func fillReasons(convs []analysis.Conversation) {
	type question struct {
		netns, in, out, initiator string
		local, remote             netip.Addr
	}
	at := map[question]int{}
	var asked []analysis.Conversation
	which := make([]int, len(convs))
	for i, c := range convs {
		q := question{c.NetnsPath, c.InInterface, c.OutInterface, c.Initiator, c.Local, c.Remote}
		j, ok := at[q]
		if !ok {
			j = len(asked)
			at[q] = j
			asked = append(asked, c)
		}
		which[i] = j
	}
	analysis.FillReasons(asked)
	for i := range convs {
		convs[i].Reason = asked[which[i]].Reason
	}
}

// topSample converts a snapshot and its asymmetric conversations into plain values for
// top. It is pure.
func topSample(snap probe.Snapshot, convs []analysis.Conversation) top.Sample {
	out := top.Sample{Time: snap.Time, Checked: []top.Kind{top.KindAsymmetric}}
	for _, c := range snap.Interfaces {
		out.Interfaces = append(out.Interfaces, top.Interface{Container: c.Container, Name: c.Interface, HostInterface: c.HostInterface,
			Bridge: c.Bridge, RxBytes: c.RxBytes, RxPackets: c.RxPackets, TxBytes: c.TxBytes, TxPackets: c.TxPackets})
	}
	for _, f := range snap.Flows {
		dir := top.Receive
		if f.Direction == probe.Transmit {
			dir = top.Transmit
		}
		out.Flows = append(out.Flows, top.Flow{Container: f.Container, Interface: f.Interface, Direction: dir, Proto: probe.ProtoName(f.Proto),
			Src: endpoint(f.Src, f.SrcPort, f.Proto, true), Dst: endpoint(f.Dst, f.DstPort, f.Proto, false), Packets: f.Packets, Bytes: f.Bytes, FirstSeen: f.FirstSeen})
	}
	for _, c := range convs {
		reason, fix, _ := strings.Cut(c.Reason, "; fix: ")
		where := "in " + c.InInterface + "→out " + c.OutInterface // a peer's request, the container's reply
		if c.Initiator == analysis.InitiatorLocal {
			where = "out " + c.OutInterface + "→in " + c.InInterface
		}
		out.Problems = append(out.Problems, top.Problem{Kind: top.KindAsymmetric, Container: c.Container,
			Subject: fmt.Sprintf("%s %s ⇄ %s", probe.ProtoName(c.Proto), convEndpoint(c.Local, c.LocalPort, c.Proto, false), convEndpoint(c.Remote, c.RemotePort, c.Proto, true)),
			Where:   where, Bytes: c.OutBytes, Reason: reason, Fix: fix, LastSeen: c.LastSeen})
	}
	return out
}
