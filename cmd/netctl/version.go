//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// versionInfo is what `netctl version` prints.
type versionInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	GoVersion string `json:"goversion"`
	Platform  string `json:"platform"`
}

func newVersionCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print netctl's version, revision and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := versionInfo{version, revision, runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH}
			if g.json() {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "netctl %s (revision %s, %s, %s)\n", v.Version, v.Revision, v.GoVersion, v.Platform)
			return err
		},
	}
}
