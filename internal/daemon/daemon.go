//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/exporter"
	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/internal/docker"
	"github.com/netctl/netctl/internal/nsutil"
	"github.com/netctl/netctl/internal/state"
	"github.com/netctl/netctl/probe"
)

// Defaults of Options.
const (
	DefaultSaveInterval    = 30 * time.Second
	DefaultShutdownTimeout = 5 * time.Second
)

// Options say what a Daemon serves and how.
type Options struct {
	// Datapath is the open datapath of the host namespace; the daemon reads it and keeps
	// Bridge's ports attached. The caller closes it after Run.
	Datapath *probe.Datapath
	// Host is the host namespace (where the bridge lives). Its inode names the state
	// file; DetachOnExit detaches there.
	Host netns.NsHandle
	// Attach, if set, attaches the counters when Run starts (the bridge's ports and any
	// named interfaces); what it attached is logged. Run fails when it fails.
	Attach func(context.Context) ([]probe.Attachment, error)
	// Bridges are the bridges whose ports are watched and attached as they come.
	Bridges []string
	// Docker, if set, is the view of the Docker engine that Run keeps current (its
	// events name containers, bring persisted NICs back and report networks).
	Docker *docker.View
	// FollowNetworks watches the bridge of each Docker network created while Run runs,
	// and stops watching that of each one removed (serve without --bridge).
	FollowNetworks bool
	// Reapply puts the NICs of nic add --persist back on containers that start again.
	Reapply bool
	// PersistDir is the persistent root of those records ("": state.PersistDir()).
	PersistDir string
	// Collector tunes the Prometheus collector; its FlowIdleTimeout is also /flows' idle.
	Collector exporter.CollectorOptions
	// ListenAddresses, WebConfigFile and SystemdSocket are the exporter-toolkit web
	// flags: where to listen, TLS and basic auth, socket activation.
	ListenAddresses []string
	WebConfigFile   string
	SystemdSocket   bool
	// StateDir is the state root; the collector's memory is at StatePath(StateDir, the
	// host's inode) ("": state.Dir()).
	StateDir string
	// SaveInterval is how often the collector's memory is saved while running, besides
	// on the way out (0: DefaultSaveInterval).
	SaveInterval time.Duration
	// DetachOnExit removes the programs, links, pins and the collector's memory when
	// Run stops cleanly (ctx ended), instead of saving the memory for the next run.
	DetachOnExit bool
	// Version and Revision label netctl_build_info and the landing page.
	Version, Revision string
	// Logger gets what the daemon does (nil: slog.Default()).
	Logger *slog.Logger
}

// Daemon attaches, watches and serves /metrics, /flows and /healthz until its context
// ends.
type Daemon struct {
	opts      Options
	log       *slog.Logger
	hostIno   uint64
	collector *exporter.Collector
	watchErr  atomic.Pointer[error] // why the link watch stopped, while it is retried
	// reapplyCount counts the persisted NICs put back, and the failures.
	reapplyCount *exporter.NICReapply
}

// New returns a Daemon for opts.
func New(opts Options) (*Daemon, error) {
	if opts.Datapath == nil {
		return nil, errors.New("daemon without a datapath")
	}
	opts.StateDir = cmp.Or(opts.StateDir, state.Dir())
	opts.SaveInterval = cmp.Or(opts.SaveInterval, DefaultSaveInterval)
	opts.Collector.FlowIdleTimeout = cmp.Or(opts.Collector.FlowIdleTimeout, exporter.DefaultFlowIdleTimeout)
	opts.Logger = cmp.Or(opts.Logger, slog.Default())
	opts.Collector.Logger = cmp.Or(opts.Collector.Logger, opts.Logger)
	ino, err := nsutil.Inode(opts.Host)
	if err != nil {
		return nil, err
	}
	return &Daemon{opts: opts, log: opts.Logger, hostIno: ino,
		collector: exporter.NewCollector(opts.Datapath, opts.Collector), reapplyCount: exporter.NewNICReapply()}, nil
}

// Run attaches (Options.Attach), watches the bridge, restores the collector's memory
// and serves HTTP until ctx ends or the listener fails; then it stops serving and saves
// the memory, or, with DetachOnExit and a clean stop, detaches and removes it. The
// pinned counters keep counting after Run unless detached.
func (d *Daemon) Run(ctx context.Context) error {
	if d.opts.Attach != nil {
		at, err := d.opts.Attach(ctx)
		if err != nil {
			return err
		}
		for _, a := range at {
			d.logAttach(a)
		}
	}
	statePath := StatePath(d.opts.StateDir, d.hostIno)
	if err := d.collector.LoadState(statePath); err != nil {
		d.log.Warn("exporter state not restored; counters restart from the kernel's values", "err", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if len(d.opts.Bridges) > 0 || d.opts.FollowNetworks {
		wg.Go(func() { d.watch(ctx) })
	}
	if d.opts.Docker != nil {
		wg.Go(func() { d.followDocker(ctx) })
	}
	wg.Go(func() { d.saveEvery(ctx, statePath) })

	err := d.serve(ctx)
	cancel()
	wg.Wait() // the watcher and the saver are done before the last save or the detach
	if err != nil || !d.opts.DetachOnExit {
		if err := d.collector.SaveState(statePath); err != nil {
			d.log.Error("save exporter state", "err", err)
		}
		return err
	}
	rep, err := probe.Detach(d.opts.Host, d.opts.Datapath.Options())
	if err != nil {
		return err
	}
	d.log.Info("detached", "links", rep.Links, "filters", rep.Filters, "qdiscs", rep.Qdiscs, "pins", rep.Pins)
	return RemoveState(d.opts.StateDir, d.hostIno)
}

// serve serves HTTP until ctx ends (nil) or the listener fails (its error).
func (d *Daemon) serve(ctx context.Context) error {
	reg := exporter.NewRegistry(d.collector, d.opts.Version, d.opts.Revision)
	reg.MustRegister(d.reapplyCount)
	handler, err := exporter.NewHandler(exporter.HandlerOptions{
		Registry: reg,
		Version:  d.opts.Version,
		Flows:    d.flows,
		Healthy: func() error {
			if p := d.watchErr.Load(); p != nil {
				return *p
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	srv := exporter.NewHTTPServer(handler)
	listen, webConfig, systemdSocket := d.opts.ListenAddresses, d.opts.WebConfigFile, d.opts.SystemdSocket
	errc := make(chan error, 1)
	go func() {
		errc <- web.ListenAndServe(srv, &web.FlagConfig{
			WebListenAddresses: &listen, WebSystemdSocket: &systemdSocket, WebConfigFile: &webConfig,
		}, d.log)
	}()
	select {
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	case <-ctx.Done():
		d.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), DefaultShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-errc
		return nil
	}
}

// flows is what /flows serves: the asymmetric conversations with their reasons, or
// every flow.
func (d *Daemon) flows(ctx context.Context, all bool) (any, error) {
	snap, err := d.opts.Datapath.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if all {
		return snap.Flows, nil
	}
	convs := analysis.DetectAsymmetric(snap.Flows, snap.Time, d.opts.Collector.FlowIdleTimeout)
	analysis.FillReasons(convs)
	return convs, nil
}

// saveEvery saves the collector's memory every SaveInterval until ctx ends.
func (d *Daemon) saveEvery(ctx context.Context, path string) {
	t := time.NewTicker(d.opts.SaveInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.collector.SaveState(path); err != nil {
				d.log.Error("save exporter state", "err", err)
			}
		}
	}
}
