package main

import "github.com/spf13/cobra"

func newLabCmd(_ *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "lab",
		Short: "The seed's Docker topology in network namespaces, for demos and tests",
		RunE:  func(*cobra.Command, []string) error { return notImplemented("lab", 2) },
	}
}
