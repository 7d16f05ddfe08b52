//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/docker"
	"github.com/netctl/netctl/internal/doctor"
	"github.com/netctl/netctl/internal/nsutil"
	"github.com/netctl/netctl/netctl"
)

// openHost opens the host namespace chosen by -n (default: the current one) and says
// how a shell reaches it. Every command that touches netctl's state comes here once
// its flags are valid, so this is where what gone namespaces left is pruned.
func openHost(g *globalOptions) (netns.NsHandle, netctl.NSView, error) {
	h, err := nsutil.Open(g.netns)
	if err != nil {
		return h, netctl.NSView{}, fmt.Errorf("--netns: %w", err)
	}
	pruneOnce(g, h)
	switch {
	case g.netns == "":
		return h, netctl.NSView{}, nil
	case strings.Contains(g.netns, "/"):
		return h, netctl.NSView{Path: g.netns}, nil
	}
	return h, netctl.NSView{Name: g.netns}, nil
}

// requireNetAdmin refuses early, before any change, when netctl lacks the capabilities
// the command needs.
func requireNetAdmin(what string) error {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	eff, err := doctor.ParseCapEff(string(st))
	if err != nil {
		return err
	}
	if eff&(1<<doctor.CapNetAdmin) == 0 || eff&(1<<doctor.CapSysAdmin) == 0 {
		return fmt.Errorf("permission denied: netctl %s needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)", what)
	}
	return nil
}

// openEnv resolves the container and binds netlink handles to both namespaces.
func openEnv(cmd *cobra.Command, g *globalOptions, ref string) (*netctl.Env, func(), error) {
	if err := requireNetAdmin(cmd.CommandPath()[len("netctl "):]); err != nil {
		return nil, nil, err
	}
	r, err := netctl.ParseRef(ref, nsutil.Exists)
	if err != nil {
		return nil, nil, err
	}
	host, view, err := openHost(g)
	if err != nil {
		return nil, nil, err
	}
	c, err := netctl.Resolve(cmd.Context(), r)
	if err != nil {
		host.Close()
		return nil, nil, err
	}
	env, err := netctl.NewEnv(host, view, c, netctl.EnvOptions{StateDir: g.stateDir})
	if err != nil {
		c.Close()
		host.Close()
		return nil, nil, err
	}
	return env, func() { env.Close(); host.Close() }, nil
}

func newNicCmd(g *globalOptions) *cobra.Command {
	nic := &cobra.Command{
		Use:   "nic",
		Short: "Add, remove and list a container's extra NICs (the seed's manual steps, atomic and undoable)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	nic.AddCommand(newNicAddCmd(g), newNicDelCmd(g), newNicListCmd(g))
	return nic
}

func newNicAddCmd(g *globalOptions) *cobra.Command {
	var (
		spec                    netctl.Spec
		addrs                   []string
		gateway, mac            string
		dryRun, noGuard, dflRte bool
		persist                 bool
		arpWait                 time.Duration
	)
	cmd := &cobra.Command{
		Use:   "add CONTAINER --bridge BR --address CIDR [flags]",
		Short: "Give a running container a new veth NIC on a bridge, with addresses and routes",
		Long: `add does the seed's manual steps in one atomic command: a veth pair whose container end is
born inside the container's namespace, the host end plugged into --bridge, the addresses,
and optionally the default route moved to the new NIC. If any step fails, every earlier
step is undone. What it changed is recorded under /run/netctl so that 'nic del' restores
it exactly, from any later process.

By default it also sets an ARP guard (arp_ignore=1, arp_announce=2 on all and on the
container's interfaces that share the bridge), so peers keep reaching eth0's address on
eth0's MAC. --source-routing adds, for each other interface, a rule 'from ADDR lookup T'
with that interface's subnet and default route, so replies leave where requests came in.

--bridge is a Linux bridge of the host namespace or a Docker network (its name or ID;
a user-defined network's bridge is br-<id>).

--persist (Docker containers) also records the NIC under /var/lib/netctl, so that
'netctl serve' puts it back, within a second, each time the container starts again: a
restart gives the container a new network namespace, and the NIC goes with the old one.
'nic del' removes the record; so does removing the container.

CONTAINER is docker:NAME|ID, netns:NAME, pid:PID, a namespace path, or a bare word (a
named netns if /var/run/netns/WORD exists, else a Docker container).`,
		Example: `  netctl -n netctl-lab-host nic add netns:netctl-lab-container1 --bridge docker0 \
      --address 172.17.0.99/24 --gateway 172.17.0.1 --default-route
  netctl nic add docker:web --bridge docker0 --address 172.17.0.99/24 --dry-run`,
		Args: exactArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if spec.Addresses, err = netctl.ParseAddresses(addrs); err != nil {
				return err
			}
			if gateway != "" {
				if spec.Gateway, err = netip.ParseAddr(gateway); err != nil {
					return fmt.Errorf("invalid --gateway %q: not an IP address", gateway)
				}
			}
			if mac != "" {
				if spec.MAC, err = net.ParseMAC(mac); err != nil {
					return fmt.Errorf("invalid --mac %q: %w", mac, err)
				}
			}
			spec.DefaultRoute, spec.NoARPGuard = dflRte, noGuard
			given := spec.Bridge
			if spec.Bridge, err = resolveNicBridge(cmd, g, given); err != nil {
				return err
			}
			if err := spec.Validate(); err != nil {
				return err
			}
			if err := netctl.CheckARPProbeWait(arpWait); err != nil {
				return err
			}
			if persist && g.netns != "" {
				return errors.New("--persist works in the namespace the Docker engine runs in: give no -n")
			}
			env, done, err := openEnv(cmd, g, args[0])
			if err != nil {
				return err
			}
			defer done()
			if persist && env.Ctr.ID == "" {
				return fmt.Errorf("--persist needs a Docker container (docker:NAME): only the engine starts a container again")
			}
			opt := netctl.AddOptions{DryRun: dryRun, ARPProbeWait: arpWait}
			if arpWait == 0 {
				opt.ARPProbeWait = -1 // 0 on the command line: no probe
			}
			plan, err := env.Add(spec, opt)
			if err != nil {
				return fmt.Errorf("nic add %s: %w", env.Ctr.Label, err)
			}
			if persist && !dryRun {
				if err := savePersisted(g, env, spec, given); err != nil {
					_, _ = env.Del(spec.Name) // all or nothing
					return fmt.Errorf("nic add %s: %w (the NIC was removed again)", env.Ctr.Label, err)
				}
			}
			if w := plan.Warning(); w != "" {
				slog.Warn(w)
			}
			return printPlan(cmd, g, env, plan, dryRun)
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.Bridge, "bridge", "docker0", "bridge in the host namespace to plug the new NIC into")
	f.StringSliceVar(&addrs, "address", nil, "address with prefix length for the new NIC (repeatable; IPv4 or IPv6)")
	f.StringVar(&spec.Name, "name", netctl.DefaultName, "interface name inside the container (≤ 15 bytes)")
	f.StringVar(&gateway, "gateway", "", "gateway on the new NIC's subnet")
	f.BoolVar(&dflRte, "default-route", false, "replace the container's default route with 'via GATEWAY dev NAME' (needs --gateway)")
	f.BoolVar(&spec.SourceRouting, "source-routing", false, "route replies from the other interfaces' addresses back through them (policy rules)")
	f.BoolVar(&noGuard, "no-arp-guard", false, "do not set arp_ignore/arp_announce (peers may then reach eth0's address on the new NIC's MAC)")
	f.StringVar(&spec.HostName, "host-name", "", "name of the host-side veth (default: nc + 8 hex digits derived from the namespace and --name)")
	f.IntVar(&spec.MTU, "mtu", 0, "MTU of both veth ends (default: the bridge's MTU)")
	f.StringVar(&mac, "mac", "", "MAC address of the container-side interface (default: random)")
	f.DurationVar(&arpWait, "arp-probe-wait", netctl.DefaultARPProbeWait, "how long to wait for another host on the bridge to answer an ARP probe for each new IPv4 address (0: no probe)")
	f.BoolVar(&dryRun, "dry-run", false, "print the equivalent ip/sysctl commands and change nothing")
	f.BoolVar(&persist, "persist", false, "Docker containers: have 'netctl serve' put the NIC back whenever the container starts again")
	_ = cmd.MarkFlagRequired("address")
	return cmd
}

// printPlan prints what add did (or would do, with --dry-run).
func printPlan(cmd *cobra.Command, g *globalOptions, env *netctl.Env, p netctl.Plan, dryRun bool) error {
	out := cmd.OutOrStdout()
	type jsonStep struct {
		netctl.Step
		Commands []string `json:"commands"`
		Undo     []string `json:"undo"`
	}
	if g.json() {
		steps := make([]jsonStep, len(p.Steps))
		for i, s := range p.Steps {
			steps[i] = jsonStep{s, s.Commands(env.HostView, env.Ctr.View), s.UndoCommands(env.HostView, env.Ctr.View)}
		}
		return writeJSON(out, map[string]any{
			"dry_run": dryRun, "container": p.Container, "netns_inode": p.NSInode,
			"name": p.Spec.Name, "host_name": p.HostName, "bridge": p.Spec.Bridge, "steps": steps,
		})
	}
	if dryRun {
		fmt.Fprintf(out, "# nic add %s: %d steps; nothing was changed (--dry-run)\n", p.Container, len(p.Steps))
		fmt.Fprint(out, p.Script(env.HostView, env.Ctr.View, false))
		fmt.Fprintf(out, "# undo (nic del):\n")
		fmt.Fprint(out, p.Script(env.HostView, env.Ctr.View, true))
		return nil
	}
	fmt.Fprintf(out, "added %s to %s: host side %s on %s, %s (%d steps)\n", p.Spec.Name, p.Container, p.HostName,
		p.Spec.Bridge, joinPrefixes(p.Spec.Addresses), len(p.Steps))
	for _, s := range p.Steps {
		switch s.Kind {
		case netctl.StepRouteAdd, netctl.StepRouteDel, netctl.StepRuleAdd, netctl.StepSysctl:
			fmt.Fprintf(out, "  %s\n", strings.Join(s.Commands(env.HostView, env.Ctr.View), "; "))
		}
	}
	return nil
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func newNicDelCmd(g *globalOptions) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "del CONTAINER [--name eth1]",
		Short: "Remove a NIC made by 'nic add' and restore what it changed",
		Long: `del removes both ends of the veth that 'nic add' made and restores, in reverse order,
everything add changed: the default route, policy rules and their tables, the ARP sysctls.
It works from the record add wrote under /run/netctl, so any later process can run it.
Nothing to remove is success (exit 0). An interface netctl did not make is left alone.`,
		Args: exactArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, done, err := openEnv(cmd, g, args[0])
			if errors.Is(err, docker.ErrNotRunning) {
				// Its namespace is gone, and every NIC netctl gave it went with it.
				fmt.Fprintf(cmd.OutOrStdout(), "%s: nothing to remove (its network namespace went with it)\n", err)
				return unpersistStopped(cmd, g, args[0], name)
			}
			if err != nil {
				return err
			}
			defer done()
			res, err := env.Del(name)
			if err != nil {
				return err
			}
			if unpersisted, err := (netctl.PersistStore{Dir: g.persistDir}).Remove(env.Ctr.ID, name); err != nil {
				return err
			} else {
				res.Unpersisted = unpersisted
			}
			if g.json() {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			if res.Removed {
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s from %s (host side %s); undid %d changes\n", name, env.Ctr.Label, res.Host, res.Restored)
			}
			if res.Note != "" {
				fmt.Fprintln(cmd.OutOrStdout(), res.Note)
			}
			if res.Unpersisted {
				fmt.Fprintf(cmd.OutOrStdout(), "removed the persisted record of %s: serve no longer puts it back\n", name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", netctl.DefaultName, "interface name inside the container")
	return cmd
}

func newNicListCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list [CONTAINER]",
		Short: "List a container's interfaces, peers, bridges and default-route owner",
		Long: `list shows each interface of one container, or of every container netctl can see
(running Docker containers, /var/run/netns, /var/run/docker/netns): its addresses, the
host-side veth peer and the bridge it is plugged into, whether it owns the default
route, whether netctl made it ("incomplete" when netctl was interrupted while adding or
removing it: the next 'nic add' rolls it back and adds it again, 'nic del' removes it),
and whether it is persisted (nic add --persist; "yes, absent" while its container is
stopped, or restarted with no serve to put it back).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireNetAdmin("nic list"); err != nil {
				return err
			}
			host, view, err := openHost(g)
			if err != nil {
				return err
			}
			defer host.Close()
			var ctrs []*netctl.Container
			if len(args) == 1 {
				r, err := netctl.ParseRef(args[0], nsutil.Exists)
				if err != nil {
					return err
				}
				c, err := netctl.Resolve(cmd.Context(), r)
				if err != nil {
					return err
				}
				ctrs = append(ctrs, c)
			} else if ctrs, err = netctl.AllContainers(cmd.Context(), host); err != nil {
				return err
			}
			rows := []netctl.Interface{}
			for _, c := range ctrs {
				env, err := netctl.NewEnv(host, view, c, netctl.EnvOptions{StateDir: g.stateDir})
				if err != nil {
					c.Close()
					if len(args) == 1 {
						return err
					}
					continue
				}
				ifs, err := env.ListInterfaces()
				env.Close()
				if err != nil {
					return err
				}
				rows = append(rows, ifs...)
			}
			if len(args) == 0 || ctrs[0].ID != "" {
				only := ""
				if len(args) == 1 {
					only = ctrs[0].ID
				}
				if rows, err = withPersisted(cmd.Context(), g, rows, only); err != nil {
					return err
				}
			}
			if g.json() {
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CONTAINER\tINTERFACE\tADDRESSES\tHOST PEER\tBRIDGE\tDEFAULT ROUTE\tBY NETCTL\tPERSISTED")
			for _, r := range rows {
				persisted := yesNo(r.Persisted)
				if r.Persisted && !r.Present {
					persisted = "yes, absent"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Container, r.Interface, orDash(joinPrefixes(r.Addresses)),
					orDash(r.HostPeer), orDash(r.Bridge), yesNo(r.DefaultRoute), byNetctl(r), persisted)
			}
			return tw.Flush()
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// byNetctl is the BY NETCTL cell of an interface.
func byNetctl(r netctl.Interface) string {
	if r.Incomplete {
		return "incomplete (interrupted: nic add redoes it, nic del removes it)"
	}
	return yesNo(r.ByNetctl)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// exactArgs is cobra.ExactArgs with a message that names the argument.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("want %d argument (%s), got %d", n, what, len(args))
		}
		return nil
	}
}
