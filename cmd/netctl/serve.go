//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/spf13/cobra"

	"github.com/netctl/netctl/exporter"
	"github.com/netctl/netctl/internal/daemon"
	"github.com/netctl/netctl/probe"
)

// serveGCPercent is the garbage collector's target growth in serve (GOGC overrides it).
const serveGCPercent = 10

func newServeCmd(g *globalOptions) *cobra.Command {
	var (
		mode, webConfig         string
		bridges, ifaces, listen []string
		seriesLimit, trackLimit int
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
  /flows    the asymmetric conversations with the route that causes them (JSON; ?all=1:
            the busiest flows instead; ?limit=N, default 100, at most 1000)
  /healthz  ok while attached and watching

Its memory is bounded whatever the traffic does: by the flow table (--flow-entries) and
by --flow-tracking-limit; the traffic of conversations beyond that limit is counted in
one series per container interface, proto="other".

The listener stays in the namespace netctl started in, whatever -n says. By default it
listens on every address (:10961) without TLS or authentication, as node_exporter does:
give --web.listen-address a single address (127.0.0.1:10961, the node's own) and
--web.config.file for TLS and basic auth (the Prometheus exporter-toolkit format). On SIGTERM
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
			if trackLimit != 0 && trackLimit < seriesLimit {
				return fmt.Errorf("invalid --flow-tracking-limit %d: want 0 or at least --flow-series-limit (%d)", trackLimit, seriesLimit)
			}
			if err := cmp.Or(probe.CheckFlowEntries(flowEntries), daemon.CheckFlowIdleTimeout(idle)); err != nil {
				return err
			}
			claim, err := claimServe(g, listen, systemdSocket)
			if err != nil {
				return err
			}
			defer claim.release()
			if os.Getenv("GOGC") == "" {
				// serve's large buffers (the flow table's mirror) are allocated once and hold no
				// pointers: collecting at 10 % growth costs little and keeps the resident memory
				// near what is live instead of up to twice that.
				debug.SetGCPercent(serveGCPercent)
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
					FlowSeriesLimit: seriesLimit, FlowTrackingLimit: trackLimit, FlowIdleTimeout: idle, Logger: slog.Default(),
				},
				ListenAddresses: listen, Listeners: claim.listeners, WebConfigFile: webConfig, SystemdSocket: systemdSocket,
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
	f.IntVar(&trackLimit, "flow-tracking-limit", 0, fmt.Sprintf("most flow series counted, exported or not (0: %d × --flow-series-limit); beyond it, new conversations count in their interface's proto=\"other\" series", exporter.DefaultTrackingFactor))
	f.DurationVar(&idle, "flow-idle-timeout", exporter.DefaultFlowIdleTimeout, "a flow series, and an asymmetric conversation, goes away after this long without traffic")
	f.StringSliceVar(&listen, "web.listen-address", []string{exporter.DefaultListenAddress}, "addresses to listen on (repeatable); the default is every address, without TLS or auth: narrow it and see --web.config.file")
	f.StringVar(&webConfig, "web.config.file", "", "TLS and basic-auth configuration (exporter-toolkit web config)")
	f.BoolVar(&systemdSocket, "web.systemd-socket", false, "use systemd socket activation listeners instead of --web.listen-address")
	f.BoolVar(&detach, "detach-on-exit", false, "remove the programs, links and pins when serve stops")
	return cmd
}
