//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"github.com/netctl/netctl/internal/lab"
)

func newLabCmd(g *globalOptions) *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "The seed's Docker topology in network namespaces, for demos and tests",
		Long: `lab builds the seed's starting point in network namespaces named PREFIX-host,
PREFIX-container1, PREFIX-container2 and PREFIX-outside: a docker0 bridge (172.17.0.1/16)
in the host namespace, two containers with eth0 172.17.0.2/16 and 172.17.0.3/16 on it, and
an outside host (198.51.100.2/24) reached by routing through the host. Nothing changes in
the namespace netctl runs in.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := cmd.Root().PersistentPreRunE(cmd, args); err != nil {
				return err
			}
			if g.netns != "" {
				return errors.New("--netns does not apply to lab: the lab makes its own namespaces (use --prefix)")
			}
			return lab.ValidatePrefix(prefix)
		},
	}
	cmd.PersistentFlags().StringVar(&prefix, "prefix", lab.DefaultPrefix, "prefix of the lab's namespace names (PREFIX-host, PREFIX-container1, …)")
	cmd.AddCommand(newLabUpCmd(g, &prefix), newLabStatusCmd(g, &prefix), newLabTrafficCmd(g, &prefix), newLabUDPCmd(g, &prefix), newLabDownCmd(g, &prefix))
	return cmd
}

func newLabUpCmd(g *globalOptions, prefix *string) *cobra.Command {
	var ipv6, container3 bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create the lab's namespaces, bridge, veths, addresses and routes (all or nothing)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			l, err := lab.Up(ctx, lab.Options{Prefix: *prefix, IPv6: ipv6, Container3: container3, Dir: lab.DefaultDir()})
			if err != nil {
				return err
			}
			defer l.Close()
			t, err := l.Topology()
			if err != nil {
				return err
			}
			if g.json() {
				return writeJSON(cmd.OutOrStdout(), t)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lab %s is up; remove it with 'netctl lab down --prefix %s'\n\n", *prefix, *prefix)
			return lab.WriteTopology(cmd.OutOrStdout(), t)
		},
	}
	cmd.Flags().BoolVar(&ipv6, "ipv6", false, "keep IPv6 on and add fd17::/64 on docker0 and fd51::/64 outside")
	cmd.Flags().BoolVar(&container3, "container3", false, "add a third container, PREFIX-container3 (eth0 172.17.0.4/16 on docker0): it sees what the bridge floods")
	return cmd
}

func newLabStatusCmd(g *globalOptions, prefix *string) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the lab's namespaces, interfaces, addresses, bridge ports and routes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := lab.Status(lab.DefaultDir(), *prefix)
			if err != nil {
				return err
			}
			if g.json() {
				return writeJSON(cmd.OutOrStdout(), t)
			}
			return lab.WriteTopology(cmd.OutOrStdout(), t)
		},
	}
}

func newLabTrafficCmd(g *globalOptions, prefix *string) *cobra.Command {
	var opts lab.TrafficOptions
	cmd := &cobra.Command{
		Use:   "traffic",
		Short: "Send bounded ping and TCP traffic between the lab's namespaces and report what came back",
		Long: `traffic runs, one after another, ping (ICMP echo) and TCP echo flows:
container2 -> container1, outside -> container1 and container1 -> outside (and the same
over IPv6 in a lab made with --ipv6). It exits non-zero if any flow lost anything.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Zero means "default" in the API; on the command line it is a mistake.
			for _, name := range []string{"count", "size", "tcp-bytes", "timeout", "flow-timeout"} {
				if f := cmd.Flags().Lookup(name); f.Value.String() == "0" || f.Value.String() == "0s" {
					return fmt.Errorf("invalid --%s 0: must be positive", name)
				}
			}
			if _, err := opts.Resolve(); err != nil {
				return err
			}
			return withLab(cmd, *prefix, func(ctx context.Context, l *lab.Lab) error {
				r, err := l.Traffic(ctx, opts)
				if err != nil && r == nil {
					return err
				}
				if g.json() {
					if werr := writeJSON(cmd.OutOrStdout(), r); werr != nil {
						return werr
					}
				} else if werr := lab.WriteTraffic(cmd.OutOrStdout(), r); werr != nil {
					return werr
				}
				if err != nil {
					return err
				}
				return r.Err()
			})
		},
	}
	f := cmd.Flags()
	f.IntVarP(&opts.Count, "count", "c", 10, "ICMP echo requests per ping flow")
	f.IntVarP(&opts.Size, "size", "s", 56, "ICMP echo payload bytes")
	f.IntVar(&opts.TCPBytes, "tcp-bytes", 256<<10, "bytes each TCP flow sends and expects echoed back")
	f.DurationVarP(&opts.Timeout, "timeout", "W", time.Second, "how long to wait for each echo reply")
	f.DurationVar(&opts.FlowTimeout, "flow-timeout", 30*time.Second, "upper bound of each flow")
	return cmd
}

// withLab opens the lab with prefix and runs fn with it and a context an interrupt
// cancels.
func withLab(cmd *cobra.Command, prefix string, fn func(ctx context.Context, l *lab.Lab) error) error {
	l, err := lab.Open(lab.DefaultDir(), prefix)
	if err != nil {
		return err
	}
	defer l.Close()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	return fn(ctx, l)
}

func newLabDownCmd(g *globalOptions, prefix *string) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Remove exactly the namespaces 'lab up' made (and everything in them)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			removed, err := lab.Down(lab.DefaultDir(), *prefix)
			if err != nil {
				return err
			}
			if g.json() {
				return writeJSON(cmd.OutOrStdout(), struct {
					Prefix  string `json:"prefix"`
					Removed bool   `json:"removed"`
				}{*prefix, removed})
			}
			if removed {
				fmt.Fprintf(cmd.OutOrStdout(), "lab %s removed\n", *prefix)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "no lab %s: nothing to do\n", *prefix)
			}
			return nil
		},
	}
}
