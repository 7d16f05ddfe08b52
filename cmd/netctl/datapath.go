//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/daemon"
	"github.com/netctl/netctl/internal/nsutil"
	"github.com/netctl/netctl/netctl"
	"github.com/netctl/netctl/probe"
)

func newAttachCmd(g *globalOptions) *cobra.Command {
	var (
		mode            string
		bridges, ifaces []string
		flowEntries     uint32
	)
	cmd := &cobra.Command{
		Use:   "attach [--bridge BRIDGE|NETWORK]... [--iface NAME[@CONTAINER]]...",
		Short: "Attach the tc eBPF counters to a bridge's ports and named interfaces, pin them, exit",
		Long: `attach puts netctl's tc programs on every port of each --bridge in the host namespace and on
each --iface (NAME in the host namespace, or NAME@CONTAINER inside a container, e.g.
eth1@docker:web), pins their maps and links under /sys/fs/bpf/netctl/<netns cookie>/ and
exits: the counters keep counting without netctl running. Interfaces that already carry
netctl's programs are adopted, never attached twice. 'netctl status' and 'netctl flows'
read the pinned maps; 'netctl detach' removes everything.

--bridge takes a Linux bridge or a Docker network (its name or ID: a user-defined
network's bridge is br-<id>). Without --bridge: the bridges of every bridge-driver Docker
network when the engine answers, else docker0. --bridge "" attaches to no bridge.

--attach-mode auto uses TCX (Linux 6.6) and falls back to a clsact qdisc with a
direct-action bpf filter where the kernel has no TCX; tcx or tc force one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			given := cmd.Flags().Changed("bridge")
			if given && noBridge(bridges) && len(ifaces) == 0 {
				return fmt.Errorf("nothing to attach: give --bridge or --iface")
			}
			if err := probe.CheckFlowEntries(flowEntries); err != nil {
				return err
			}
			sess, err := openSession(cmd.Context(), g, mode, flowEntries, bridgeFlag{bridges, given}, ifaces)
			if err != nil {
				return err
			}
			defer sess.close()
			attached, err := sess.attach(cmd.Context())
			if err != nil {
				return err
			}
			if g.json() {
				return writeJSON(cmd.OutOrStdout(), attached)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CONTAINER\tINTERFACE\tHOST INTERFACE\tBRIDGE\tMODE\tSTATE")
			for _, a := range attached {
				state := "attached"
				if a.Adopted {
					state = "adopted (already attached)"
				}
				if a.Pending {
					state += ", container starting"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", orDash(a.Container), a.Interface, orDash(a.HostInterface), orDash(a.Bridge), a.Mode, state)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(attached) == 0 && len(sess.bridges) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: no ports yet; 'netctl serve' attaches new ones as they appear\n", strings.Join(sess.bridges, ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&bridges, "bridge", nil, "bridge or Docker network whose ports to attach to (repeatable; default: every Docker bridge network, else docker0; \"\" for none)")
	f.StringArrayVar(&ifaces, "iface", nil, "also attach to NAME (host namespace) or NAME@CONTAINER (repeatable)")
	f.StringVar(&mode, "attach-mode", string(probe.ModeAuto), "auto (TCX, else tc), tcx or tc")
	f.Uint32Var(&flowEntries, "flow-entries", probe.DefaultFlowEntries, "size of the flow table when it is created")
	return cmd
}

// session is an open datapath with everything an attach needs, validated before
// anything was loaded: the bridges exist, every --iface resolves to an interface.
type session struct {
	host    netns.NsHandle
	bridges []string // resolved: Linux bridges of the host namespace
	docker  bool     // the bridges are the Docker engine's (no --bridge, the engine answered)
	engine  *error   // whether the engine answered (dockerView), once asked
	opts    probe.Options
	dp      *probe.Datapath
	ifaces  []ifaceTarget
	fresh   bool // nothing of netctl's was pinned for this host namespace before
	release []func()
}

// ifaceTarget is one resolved --iface NAME[@CONTAINER].
type ifaceTarget struct {
	spec, name, label, path string
	ns                      netns.NsHandle
}

// openSession validates the bridges and the --iface specs, then opens the datapath of
// the host namespace -n selects (adopting pinned maps).
func openSession(ctx context.Context, g *globalOptions, mode string, flowEntries uint32, bridges bridgeFlag, specs []string) (*session, error) {
	m, err := probe.ParseMode(mode)
	if err != nil {
		return nil, err
	}
	host, _, err := openHost(g)
	if err != nil {
		return nil, err
	}
	s := &session{host: host}
	s.release = append(s.release, func() { host.Close() })
	if err := s.validate(ctx, bridges, specs); err != nil {
		s.close()
		return nil, err
	}
	s.opts = g.probeOptions()
	s.opts.Mode, s.opts.FlowEntries = m, flowEntries
	pinned, err := probe.HasPins(host, s.opts)
	if err != nil {
		s.close()
		return nil, err
	}
	s.fresh = !pinned
	if s.dp, err = probe.Open(host, s.opts); err != nil {
		s.rollback()
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *session) validate(ctx context.Context, bridges bridgeFlag, specs []string) error {
	nl, err := nsutil.Handle(s.host)
	if err != nil {
		return fmt.Errorf("netlink in the host namespace: %w", err)
	}
	defer nl.Close()
	if s.bridges, s.docker, err = bridges.resolve(ctx, nl); err != nil {
		return err
	}
	for _, br := range s.bridges {
		if _, err := probe.BridgePorts(nl, br); err != nil {
			return err
		}
	}
	for _, spec := range specs {
		name, ref, found := strings.Cut(spec, "@")
		if err := netctl.ValidIfName(name); err != nil {
			return fmt.Errorf("invalid --iface %q: %w", spec, err)
		}
		t := ifaceTarget{spec: spec, name: name, label: "host", ns: s.host}
		if found {
			r, err := netctl.ParseRef(ref, nsutil.Exists)
			if err != nil {
				return fmt.Errorf("invalid --iface %q: %w", spec, err)
			}
			c, err := netctl.Resolve(ctx, r)
			if err != nil {
				return fmt.Errorf("--iface %s: %w", spec, err)
			}
			s.release = append(s.release, c.Close)
			t.label, t.ns, t.path = c.Label, c.NS, c.View.Path
			if c.View.Name != "" {
				t.path = nsutil.NamedPath(c.View.Name)
			}
		}
		tnl, err := nsutil.Handle(t.ns)
		if err != nil {
			return fmt.Errorf("--iface %s: %w", spec, err)
		}
		_, err = tnl.LinkByName(name)
		tnl.Close()
		if err != nil {
			return fmt.Errorf("--iface %s: interface %s not found in %s", spec, name, t.label)
		}
		s.ifaces = append(s.ifaces, t)
	}
	return nil
}

// attach attaches the bridges' ports and the --iface targets; on failure it undoes
// what this session made (when nothing was pinned before it) and returns the error.
// Once it succeeded it never undoes anything: serve calls it again to attach again
// (self-healing), and a failure then is retried, not rolled back.
func (s *session) attach(ctx context.Context) ([]probe.Attachment, error) {
	var out []probe.Attachment
	for _, bridge := range s.bridges {
		at, err := s.dp.AttachBridge(ctx, bridge)
		out = append(out, at...)
		if err != nil {
			s.rollback()
			return nil, err
		}
	}
	for _, t := range s.ifaces {
		a, err := s.dp.AttachNamed(ctx, t.ns, t.path, t.label, t.name)
		if err != nil {
			s.rollback()
			return nil, fmt.Errorf("--iface %s: %w", t.spec, err)
		}
		out = append(out, a)
	}
	s.fresh = false
	return out, nil
}

// rollback removes what a failed attach made: everything, when nothing of netctl's was
// pinned before the session (otherwise the earlier attachments are left as they were).
func (s *session) rollback() {
	if !s.fresh {
		return
	}
	if _, err := probe.Detach(s.host, s.opts); err != nil {
		slog.Warn("undo a failed attach", "err", err)
	}
}

func (s *session) close() {
	if s.dp != nil {
		_ = s.dp.Close()
	}
	for i := len(s.release) - 1; i >= 0; i-- {
		s.release[i]()
	}
}

// probeOptions are the datapath's roots: where it pins and keeps its registry.
func (g *globalOptions) probeOptions() probe.Options {
	return probe.Options{BPFDir: g.bpfDir, StateDir: g.stateDir}
}

// readPinned reads the counters pinned for the host namespace -n selects.
func readPinned(cmd *cobra.Command, g *globalOptions) (probe.Snapshot, error) {
	host, _, err := openHost(g)
	if err != nil {
		return probe.Snapshot{}, err
	}
	defer host.Close()
	return probe.ReadPinned(cmd.Context(), host, g.probeOptions())
}

func newDetachCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "detach",
		Short: "Remove every program, link and pin netctl made, and nothing else",
		Long: `detach removes, in the host namespace (-n) and the containers where netctl attached: its
TCX links, its tc filters, the clsact qdiscs it created (only those, and only when no
other filter is left on them), and its pinned maps. Other programs, filters and qdiscs
are left alone. Nothing to remove is success. A running 'netctl serve' of the namespace
attaches again within seconds (it owns its attachment): stop it first to detach for good.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, _, err := openHost(g)
			if err != nil {
				return err
			}
			defer host.Close()
			cookie, err := nsutil.Cookie(host)
			if err != nil {
				return err
			}
			rep, err := probe.Detach(host, g.probeOptions())
			// serve's memory of the exported counters goes with the counters.
			if err := errors.Join(err, daemon.RemoveState(g.stateDir, cookie)); err != nil {
				return err
			}
			if g.json() {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			if rep == (probe.DetachReport{}) {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing attached: nothing to remove")
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d TCX links, %d tc filters, %d clsact qdiscs, %d pins\n", rep.Links, rep.Filters, rep.Qdiscs, rep.Pins)
			return nil
		},
	}
}

func newStatusCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Per-interface counters read from the pinned maps, like ip -s link",
		Long: `status reads the counters netctl pinned (by 'attach' or 'serve') and prints them per
container interface, from the container's point of view: RX is traffic into the
container. It loads and attaches nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			snap, err := readPinned(cmd, g)
			if err != nil {
				return err
			}
			if g.json() {
				return writeJSON(cmd.OutOrStdout(), map[string]any{
					"time": snap.Time, "interfaces": snap.Interfaces, "flow_entries": snap.FlowEntries,
					"flow_capacity": snap.FlowCapacity, "flow_insert_failed": snap.InsertFailed, "not_parsed": snap.NotParsed,
				})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "CONTAINER\tINTERFACE\tHOST INTERFACE\tBRIDGE\tRX PACKETS\tRX BYTES\tTX PACKETS\tTX BYTES\tMODE\t")
			for _, c := range snap.Interfaces {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t\n", c.Container, c.Interface, orDash(c.HostInterface), orDash(c.Bridge),
					c.RxPackets, c.RxBytes, c.TxPackets, c.TxBytes, c.Mode)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "flow table: %d of %d entries; failed inserts: %d\n", snap.FlowEntries, snap.FlowCapacity, snap.InsertFailed)
			return nil
		},
	}
}
