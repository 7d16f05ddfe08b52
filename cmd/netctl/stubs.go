package main

import "github.com/spf13/cobra"

// Commands of the contract whose issues are still open. They exist so that --help shows
// the whole product, and they fail with exit code 2 instead of pretending to work.

func newServeCmd(_ *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "serve [--web.listen-address ADDR] [--web.config.file FILE]",
		Short: "Attach, watch and serve /metrics for Prometheus (the daemon)",
		Args:  cobra.ArbitraryArgs,
		// Any flag of the contract's serve is accepted, so the answer is "not yet", not "unknown flag".
		DisableFlagParsing: true,
		RunE:               func(*cobra.Command, []string) error { return notImplemented("serve", 5) },
	}
}
