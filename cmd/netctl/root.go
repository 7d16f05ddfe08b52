//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/netctl/netctl/internal/state"
)

// Set at build time with -ldflags "-X main.version=… -X main.revision=…".
var (
	version  = "dev"
	revision = "unknown"
)

// globalOptions are the flags every command accepts, and the roots of netctl's files.
type globalOptions struct {
	netns    string // host namespace: NAME under /var/run/netns or a PATH, like `ip -n`
	output   string // table | json
	logLevel string
	stateDir string // records: state.Dir() ($NETCTL_STATE_DIR)
	bpfDir   string // pinned maps and links: state.BPFDir() ($NETCTL_BPF_DIR)
	pruned   bool   // pruneOnce ran
	// persistDir keeps what outlives a reboot (nic add --persist): state.PersistDir()
	// ($NETCTL_PERSIST_DIR).
	persistDir string
}

func (g *globalOptions) json() bool { return g.output == "json" }

func newRootCmd() *cobra.Command {
	g := &globalOptions{stateDir: state.Dir(), bpfDir: state.BPFDir(), persistDir: state.PersistDir()}
	root := &cobra.Command{
		Use:   "netctl",
		Short: "Second NICs for Docker containers, tc eBPF traffic counters, and a Prometheus exporter",
		Long: `netctl gives a running container a second NIC and routes in one command, counts the
traffic of the docker0 bridge's ports and the containers' interfaces with tc eBPF programs,
and exports per-interface traffic and flows to Prometheus, flagging asymmetric routing
(requests in on eth0, replies out on eth1).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			switch g.output {
			case "table", "json":
			default:
				return fmt.Errorf("invalid --output %q: want table or json", g.output)
			}
			if f := cmd.Flags().Lookup("netns"); f != nil && f.Changed && g.netns == "" {
				return errors.New("invalid --netns '': give a namespace name or path, or leave -n out for the current namespace")
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
				return fmt.Errorf("invalid --log-level %q: want debug, info, warn or error", g.logLevel)
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.netns, "netns", "n", "", "host network namespace (NAME under /var/run/netns, or PATH), like ip -n; default: the current one")
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })

	root.AddGroup(
		&cobra.Group{ID: "nic", Title: "NIC management:"},
		&cobra.Group{ID: "observe", Title: "Traffic counters and export:"},
		&cobra.Group{ID: "other", Title: "Lab and diagnostics:"},
	)
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("nic", newNicCmd(g))
	add("observe", newAttachCmd(g), newDetachCmd(g), newStatusCmd(g), newFlowsCmd(g), newServeCmd(g))
	add("observe", newTopCmd(g))
	add("other", newLabCmd(g), newDoctorCmd(g), newGCCmd(g), newVersionCmd(g))
	root.SetHelpCommandGroupID("other")
	root.SetCompletionCommandGroupID("other")
	return root
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
