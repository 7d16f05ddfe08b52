package main

import "github.com/spf13/cobra"

func newDoctorCmd(_ *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check kernel, BTF, TCX, bpffs, capabilities and Docker, and say how to fix what is missing",
		RunE:  func(*cobra.Command, []string) error { return notImplemented("doctor", 2) },
	}
}
