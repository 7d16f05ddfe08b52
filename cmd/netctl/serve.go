package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/spf13/cobra"

	"github.com/netctl/netctl/exporter"
	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/probe"
)

func newServeCmd(g *globalOptions) *cobra.Command {
	var (
		bridge, mode, webConfig string
		ifaces, listen          []string
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
			sess, err := openSession(ctx, g, mode, flowEntries, bridge, ifaces)
			if err != nil {
				return err
			}
			defer sess.close()
			host, dp := sess.host, sess.dp
			at, err := sess.attach(ctx, bridge)
			if err != nil {
				return err
			}
			for _, a := range at {
				logAttach(a)
			}

			var watchErr atomic.Pointer[error]
			if bridge != "" {
				go watchBridge(ctx, dp, bridge, &watchErr)
			}

			collector := exporter.NewCollector(dp, exporter.CollectorOptions{
				FlowSeriesLimit: seriesLimit, FlowIdleTimeout: idle, Logger: slog.Default(),
			})
			// The exported counters continue across restarts: the collector's memory is
			// kept next to the attach registry, saved every 30 s and on the way out.
			hostIno, err := probe.NSInode(host)
			if err != nil {
				return err
			}
			statePath := filepath.Join(probe.StateDir, "serve", strconv.FormatUint(hostIno, 10)+".json")
			if err := collector.LoadState(statePath); err != nil {
				slog.Warn("exporter state not restored; counters restart from the kernel's values", "err", err)
			}
			defer func() {
				if err := collector.SaveState(statePath); err != nil {
					slog.Error("save exporter state", "err", err)
				}
			}()
			go func() {
				t := time.NewTicker(30 * time.Second)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
						if err := collector.SaveState(statePath); err != nil {
							slog.Error("save exporter state", "err", err)
						}
					}
				}
			}()
			handler, err := exporter.NewHandler(exporter.HandlerOptions{
				Registry: exporter.NewRegistry(collector, version, revision),
				Version:  version,
				Flows: func(ctx context.Context, all bool) (any, error) {
					snap, err := dp.Snapshot(ctx)
					if err != nil {
						return nil, err
					}
					if all {
						return snap.Flows, nil
					}
					return asymmetric(snap, idle), nil
				},
				Healthy: func() error {
					if p := watchErr.Load(); p != nil {
						return *p
					}
					return nil
				},
			})
			if err != nil {
				return err
			}
			srv := exporter.NewHTTPServer(handler)
			errc := make(chan error, 1)
			go func() {
				errc <- web.ListenAndServe(srv, &web.FlagConfig{
					WebListenAddresses: &listen, WebSystemdSocket: &systemdSocket, WebConfigFile: &webConfig,
				}, slog.Default())
			}()
			select {
			case err := <-errc:
				if err != nil && !errors.Is(err, http.ErrServerClosed) {
					return fmt.Errorf("serve: %w", err)
				}
			case <-ctx.Done():
				slog.Info("shutting down")
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = srv.Shutdown(sctx)
				cancel()
			}
			if detach {
				rep, err := probe.Detach(host)
				if err != nil {
					return err
				}
				slog.Info("detached", "links", rep.Links, "filters", rep.Filters, "qdiscs", rep.Qdiscs, "pins", rep.Pins)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&bridge, "bridge", "docker0", "bridge whose ports to count, in the host namespace (\"\" for none)")
	f.StringArrayVar(&ifaces, "iface", nil, "also count NAME (host namespace) or NAME@CONTAINER (repeatable)")
	f.StringVar(&mode, "attach-mode", string(probe.ModeAuto), "auto (TCX, else tc), tcx or tc")
	f.Uint32Var(&flowEntries, "flow-entries", 0, "size of the flow table when it is created (default 65536)")
	f.IntVar(&seriesLimit, "flow-series-limit", 1000, "most flow series exported; the rest (least traffic first) are dropped and counted")
	f.DurationVar(&idle, "flow-idle-timeout", 5*time.Minute, "a flow series, and an asymmetric conversation, goes away after this long without traffic")
	f.StringSliceVar(&listen, "web.listen-address", []string{exporter.DefaultListenAddress}, "addresses to listen on (repeatable)")
	f.StringVar(&webConfig, "web.config.file", "", "TLS and basic-auth configuration (exporter-toolkit web config)")
	f.BoolVar(&systemdSocket, "web.systemd-socket", false, "use systemd socket activation listeners instead of --web.listen-address")
	f.BoolVar(&detach, "detach-on-exit", false, "remove the programs, links and pins when serve stops")
	return cmd
}

// watchBridge keeps the bridge's ports attached until ctx ends. When the link
// subscription fails it reports the error through /healthz, waits a little, catches up
// (ports that came or went meanwhile) and watches again.
func watchBridge(ctx context.Context, dp *probe.Datapath, bridge string, watchErr *atomic.Pointer[error]) {
	for backoff := time.Second; ; backoff = min(2*backoff, time.Minute) {
		err := dp.Watch(ctx, bridge, func(e probe.Event) {
			switch e.Kind {
			case "attached":
				slog.Info("port attached", "container", e.Port.Container, "interface", e.Port.Interface, "host_interface", e.Port.HostInterface, "mode", e.Port.Mode)
			case "gone":
				slog.Info("port gone", "host_interface", e.Port.HostInterface, "ifindex", e.Port.Ifindex)
			default:
				slog.Error("watch", "host_interface", e.Port.HostInterface, "err", e.Error)
			}
		})
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("link watch ended")
		}
		slog.Error("watching links stopped; retrying", "err", err, "in", backoff)
		watchErr.Store(&err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if _, err := dp.AttachBridge(ctx, bridge); err != nil {
			slog.Error("catch up with the bridge's ports", "err", err)
			continue
		}
		watchErr.Store(nil)
	}
}

func logAttach(a probe.Attachment) {
	state := "attached"
	if a.Adopted {
		state = "adopted"
	}
	slog.Info("port "+state, "container", a.Container, "interface", a.Interface, "host_interface", a.HostInterface, "bridge", a.Bridge, "mode", a.Mode)
}

// asymmetric returns the snapshot's asymmetric conversations with their reasons.
func asymmetric(snap probe.Snapshot, idle time.Duration) []analysis.Conversation {
	conv := analysis.DetectAsymmetric(snap.Flows, snap.Time, idle)
	for i := range conv {
		conv[i].Reason = analysis.RouteReason(conv[i])
	}
	return conv
}
