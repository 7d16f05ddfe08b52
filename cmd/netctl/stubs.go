package main

import "github.com/spf13/cobra"

// Commands of the contract whose issues are still open. They exist so that --help shows
// the whole product, and they fail with exit code 2 instead of pretending to work.

func newNicCmd(_ *globalOptions) *cobra.Command {
	nic := &cobra.Command{
		Use:   "nic",
		Short: "Add, remove and list a container's extra NICs (the seed's manual steps, atomic and undoable)",
	}
	nic.AddCommand(
		&cobra.Command{
			Use:   "add CONTAINER --bridge BR --address CIDR [flags]",
			Short: "Give a running container a new veth NIC on a bridge, with addresses and routes",
			Args:  cobra.ArbitraryArgs,
			RunE:  func(*cobra.Command, []string) error { return notImplemented("nic add", 3) },
		},
		&cobra.Command{
			Use:   "del CONTAINER [--name eth1]",
			Short: "Remove a NIC made by 'nic add' and restore what it changed",
			Args:  cobra.ArbitraryArgs,
			RunE:  func(*cobra.Command, []string) error { return notImplemented("nic del", 3) },
		},
		&cobra.Command{
			Use:   "list [CONTAINER]",
			Short: "List a container's interfaces, peers, bridges and default-route owner",
			Args:  cobra.ArbitraryArgs,
			RunE:  func(*cobra.Command, []string) error { return notImplemented("nic list", 3) },
		},
	)
	return nic
}

func newAttachCmd(_ *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "attach [--bridge docker0] [--iface NAME[@CONTAINER]]...",
		Short: "Attach the tc eBPF counters to a bridge's ports and named interfaces, pin them, exit",
		Args:  cobra.ArbitraryArgs,
		RunE:  func(*cobra.Command, []string) error { return notImplemented("attach", 4) },
	}
}

func newDetachCmd(_ *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "detach",
		Short: "Remove every program, link and pin netctl made, and nothing else",
		Args:  cobra.ArbitraryArgs,
		RunE:  func(*cobra.Command, []string) error { return notImplemented("detach", 4) },
	}
}

func newStatusCmd(_ *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Per-interface counters read from the pinned maps, like ip -s link",
		Args:  cobra.ArbitraryArgs,
		RunE:  func(*cobra.Command, []string) error { return notImplemented("status", 4) },
	}
}

func newFlowsCmd(_ *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "flows [--asymmetric]",
		Short: "Live flows per interface, asymmetric ones marked",
		Args:  cobra.ArbitraryArgs,
		RunE:  func(*cobra.Command, []string) error { return notImplemented("flows", 4) },
	}
}

func newServeCmd(_ *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "serve [--web.listen-address ADDR] [--web.config.file FILE]",
		Short: "Attach, watch and serve /metrics for Prometheus (the daemon)",
		Args:  cobra.ArbitraryArgs,
		RunE:  func(*cobra.Command, []string) error { return notImplemented("serve", 5) },
	}
}
