package main

import "github.com/spf13/cobra"

// Commands of the contract whose issues are still open. They exist so that --help shows
// the whole product, and they fail with exit code 2 instead of pretending to work.

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
