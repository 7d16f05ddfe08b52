//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/daemon"
	"github.com/netctl/netctl/internal/nsutil"
	"github.com/netctl/netctl/netctl"
	"github.com/netctl/netctl/probe"
)

// pruneGone removes everything netctl keeps under its roots for namespaces that no
// longer exist: pins and attach registries (probe), exporter memories (daemon), NIC
// records (netctl), and lock and temporary files killed processes left. It returns what
// it removed. Without the privileges to tell which namespaces exist it removes nothing.
// held are namespaces the caller holds open: known to exist without a search.
func pruneGone(g *globalOptions, held ...netns.NsHandle) ([]string, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("only root can tell which namespaces are gone (entering them to read their cookies)")
	}
	live := nsutil.NewLiveness()
	for _, h := range held {
		_ = live.Add(h)
	}
	gone := live.Gone
	var removed []string
	r, err1 := probe.Prune(g.probeOptions(), gone)
	removed = append(removed, r...)
	r, err2 := daemon.PruneState(g.stateDir, gone)
	removed = append(removed, r...)
	r, err3 := netctl.Prune(g.stateDir, gone)
	removed = append(removed, r...)
	err := errors.Join(err1, err2, err3)
	if u := live.Unsure(); u != nil {
		err = errors.Join(err, fmt.Errorf("cannot tell which namespaces are gone, so nothing of theirs was removed: %w", u))
	}
	return removed, err
}

// pruneOnce runs pruneGone once per command, as root, logging what it removed: every
// command that touches netctl's state calls it (through openHost) once its flags are
// valid. A failure is logged, never fatal: the command does its work anyway.
func pruneOnce(g *globalOptions, host netns.NsHandle) {
	if g.pruned || os.Geteuid() != 0 {
		return
	}
	g.pruned = true
	removed, err := pruneGone(g, host)
	for _, r := range removed {
		slog.Info("removed what a gone namespace or a killed netctl left", "what", r)
	}
	if err != nil {
		slog.Warn("removing what gone namespaces left", "err", err)
	}
}

func newGCCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "gc",
		Short: "Remove the pins, records and state that namespaces which no longer exist left behind",
		Long: `gc removes what netctl keeps for network namespaces that no longer exist: their pinned
maps and links under the pin root (/sys/fs/bpf/netctl), their attach registries, serve's
memory of their counters and their NIC records under the state root (/run/netctl), and
the lock and temporary files that killed netctl processes left. A namespace exists while
a name, a bind mount, a process, a thread or an open file holds it. Every command that
touches this state does the same first; gc does it alone and says what it removed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireNetAdmin("gc"); err != nil {
				return err
			}
			removed, err := pruneGone(g)
			if removed == nil {
				removed = []string{}
			}
			if g.json() {
				if jerr := writeJSON(cmd.OutOrStdout(), map[string]any{"removed": removed}); jerr != nil {
					return jerr
				}
				return err
			}
			for _, r := range removed {
				fmt.Fprintln(cmd.OutOrStdout(), "removed "+r)
			}
			if len(removed) == 0 && err == nil {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing left by namespaces that no longer exist")
			}
			return err
		},
	}
}
