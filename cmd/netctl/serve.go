//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/spf13/cobra"

	"github.com/netctl/netctl/exporter"
	"github.com/netctl/netctl/internal/daemon"
	"github.com/netctl/netctl/probe"
)

func newServeCmd(g *globalOptions) *cobra.Command {
	var (
		mode, webConfig         string
		bridges, ifaces, listen []string
		seriesLimit             int
		idle                    time.Duration
		flowEntries             uint32
		systemdSocket, detach   bool
	)
	cmd := &cobra.Command{
		Use:   "serve [--web.listen-address ADDR] [--web.config.file FILE]",
		Short: "Attach, watch and serve /metrics for Prometheus (the daemon)",
		Long: `serve attaches the counters to every port of --bridge (and each --iface), keeps
attaching ports as containers come (and forgetting those that go), and serves:

  /         a landing page
  /metrics  per-interface and per-flow counters, asymmetric conversations, self-metrics
  /flows    the asymmetric conversations with the route that causes them (JSON; ?all=1: every flow)
  /healthz  ok while attached and watching

The listener stays in the namespace netctl started in, whatever -n says. TLS and basic
auth come from --web.config.file (the Prometheus exporter-toolkit format). On SIGTERM
or SIGINT it stops serving; the pinned counters keep counting (--detach-on-exit removes
them), and the next serve adopts them, so the exported counters continue.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := web.Validate(webConfig); err != nil {
				return fmt.Errorf("--web.config.file %s: %w", webConfig, err)
			}
			if seriesLimit < 1 {
				return fmt.Errorf("invalid --flow-series-limit %d: want ≥ 1", seriesLimit)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			sess, err := openSession(ctx, g, mode, flowEntries, bridgeFlag{bridges, cmd.Flags().Changed("bridge")}, ifaces)
			if err != nil {
				return err
			}
			defer sess.close()
			d, err := daemon.New(daemon.Options{
				Datapath: sess.dp, Host: sess.host, Bridges: sess.bridges,
				// The engine's events: names, persisted NICs, and its networks followed
				// when no --bridge chose the bridges.
				Docker: sess.dockerView(), FollowNetworks: sess.docker,
				Reapply: g.netns == "" && sess.dockerView() != nil, PersistDir: g.persistDir,
				Attach: func(ctx context.Context) ([]probe.Attachment, error) { return sess.attach(ctx) },
				Collector: exporter.CollectorOptions{
					FlowSeriesLimit: seriesLimit, FlowIdleTimeout: idle, Logger: slog.Default(),
				},
				ListenAddresses: listen, WebConfigFile: webConfig, SystemdSocket: systemdSocket,
				StateDir:     g.stateDir,
				DetachOnExit: detach,
				Version:      version, Revision: revision,
			})
			if err != nil {
				return err
			}
			return d.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&bridges, "bridge", nil, "bridge or Docker network whose ports to count (repeatable; default: every Docker bridge network, followed as they come and go, else docker0; \"\" for none)")
	f.StringArrayVar(&ifaces, "iface", nil, "also count NAME (host namespace) or NAME@CONTAINER (repeatable)")
	f.StringVar(&mode, "attach-mode", string(probe.ModeAuto), "auto (TCX, else tc), tcx or tc")
	f.Uint32Var(&flowEntries, "flow-entries", 0, "size of the flow table when it is created (0: the size the BPF object declares)")
	f.IntVar(&seriesLimit, "flow-series-limit", exporter.DefaultFlowSeriesLimit, "most flow series exported; the rest (least traffic first) are dropped and counted")
	f.DurationVar(&idle, "flow-idle-timeout", exporter.DefaultFlowIdleTimeout, "a flow series, and an asymmetric conversation, goes away after this long without traffic")
	f.StringSliceVar(&listen, "web.listen-address", []string{exporter.DefaultListenAddress}, "addresses to listen on (repeatable)")
	f.StringVar(&webConfig, "web.config.file", "", "TLS and basic-auth configuration (exporter-toolkit web config)")
	f.BoolVar(&systemdSocket, "web.systemd-socket", false, "use systemd socket activation listeners instead of --web.listen-address")
	f.BoolVar(&detach, "detach-on-exit", false, "remove the programs, links and pins when serve stops")
	return cmd
}
