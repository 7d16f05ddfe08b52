//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/netctl/netctl/internal/doctor"
	"github.com/netctl/netctl/probe"
)

func newDoctorCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check kernel, BTF, TCX, bpffs, capabilities and Docker, and say how to fix what is missing",
		Long: `doctor checks what netctl needs from this machine: the kernel version, BTF, bpffs at
/sys/fs/bpf, the capabilities CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON and CAP_SYS_ADMIN, that
the kernel's verifier accepts netctl's tc programs, a real TCX attach (in a scratch
network namespace it removes again), and the Docker Engine socket. Each line is ✓ or ✗
with what to do about a ✗. It exits 1 when a required check fails; Docker is optional.

Supported kernels: ` + doctor.SupportedKernels + `.
Without TCX the TCX line says so and passes: attach falls back to tc (clsact) by itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep := doctor.Gather(cmd.Context(), doctor.Probes{Load: probe.CheckLoad, TCX: probe.CheckTCX})
			out := cmd.OutOrStdout()
			if g.json() {
				if err := writeJSON(out, rep); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				for _, c := range rep.Checks {
					mark := "✓"
					if c.Status != doctor.OK {
						mark = "✗"
					}
					opt := ""
					if !c.Required {
						opt = " (optional)"
					}
					fmt.Fprintf(tw, "%s\t%s%s\t%s\n", mark, c.Name, opt, c.Detail)
					if c.Fix != "" {
						fmt.Fprintf(tw, " \t\t→ %s\n", c.Fix)
					}
				}
				tw.Flush()
			}
			if !rep.OK {
				return exitError{code: 1, msg: "doctor: a required check failed (see ✗ above)"}
			}
			return nil
		},
	}
}
