//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
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
	// Host is the host namespace (where the bridge lives). Its cookie names the state
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
	// host's cookie) ("": state.Dir()).
	StateDir string
	// SaveInterval is how often the collector's memory is saved while running, besides
	// on the way out (0: DefaultSaveInterval).
	SaveInterval time.Duration
	// CheckInterval is how often serve checks that it still counts, and attaches again
	// when not (0: DefaultCheckInterval; see selfHeal).
	CheckInterval time.Duration
	// Listeners, if set, are where to serve, opened (and so validated) before anything
	// was attached (Listen); ListenAddresses is then unused.
	Listeners []net.Listener
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
	opts       Options
	log        *slog.Logger
	hostCookie uint64
	collector  *exporter.Collector
	watchErr   atomic.Pointer[error] // why the link watch stopped, while it is retried
	// notCounting is why serve does not count (its programs detached, its pins gone),
	// until it has attached again; reattaches counts those repairs.
	notCounting atomic.Pointer[error]
	reattaches  atomic.Uint64
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
	opts.CheckInterval = cmp.Or(opts.CheckInterval, DefaultCheckInterval)
	opts.Collector.FlowIdleTimeout = cmp.Or(opts.Collector.FlowIdleTimeout, exporter.DefaultFlowIdleTimeout)
	opts.Logger = cmp.Or(opts.Logger, slog.Default())
	opts.Collector.Logger = cmp.Or(opts.Collector.Logger, opts.Logger)
	cookie, err := nsutil.Cookie(opts.Host)
	if err != nil {
		return nil, err
	}
	d := &Daemon{opts: opts, log: opts.Logger, hostCookie: cookie, reapplyCount: exporter.NewNICReapply()}
	d.collector = exporter.NewCollector(countingSource{d}, opts.Collector)
	return d, nil
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
	statePath := StatePath(d.opts.StateDir, d.hostCookie)
	if err := d.collector.LoadState(statePath); err != nil {
		d.log.Warn("exporter state not restored; counters restart from the kernel's values", "err", err)
	}
	if old := oldStatePath(d.opts.StateDir, d.hostCookie); fileExists(old) {
		// Its size grew with every flow seen; what it held is not read (it would cost what
		// the bounded state saves): the flow series continue from the kernel's values.
		d.log.Info("the exporter state of an older serve is not read; flow counters continue from the kernel's values", "path", old)
		if err := os.Remove(old); err != nil {
			d.log.Warn("remove the older exporter state", "err", err)
		}
	}
	d.collector.Prefetch() // the first scrape finds the flow tables read
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
	wg.Go(func() { d.selfHeal(ctx) })

	err := d.serve(ctx)
	cancel()
	wg.Wait()           // the watcher and the saver are done before the last save or the detach
	d.collector.Close() // and no read of the maps runs any more
	if err != nil || !d.opts.DetachOnExit {
		d.collector.Refresh() // what the tables counted since the last scrape is saved too
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
	return RemoveState(d.opts.StateDir, d.hostCookie)
}

// serve serves HTTP until ctx ends (nil) or the listener fails (its error).
func (d *Daemon) serve(ctx context.Context) error {
	handler, err := exporter.NewHandler(exporter.HandlerOptions{
		Gatherer: exporter.NewGatherer(d.collector, d.opts.Version, d.opts.Revision, d.reapplyCount, exporter.NewReattachCounter(d.reattaches.Load)),
		Version:  d.opts.Version,
		Flows:    d.flows,
		Healthy:  d.health,
	})
	if err != nil {
		return err
	}
	srv := exporter.NewHTTPServer(handler)
	listen, webConfig, systemdSocket := d.opts.ListenAddresses, d.opts.WebConfigFile, d.opts.SystemdSocket
	errc := make(chan error, 1)
	flags := &web.FlagConfig{WebListenAddresses: &listen, WebSystemdSocket: &systemdSocket, WebConfigFile: &webConfig}
	go func() {
		if len(d.opts.Listeners) > 0 {
			errc <- web.ServeMultiple(d.opts.Listeners, srv, flags, d.log)
			return
		}
		errc <- web.ListenAndServe(srv, flags, d.log)
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
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Warn("http server at shutdown", "err", err)
		}
		return nil
	}
}

// flows is what /flows serves, from the collector's last read of the flow tables: the
// asymmetric conversations with the route that causes each, or the busiest flows.
func (d *Daemon) flows(_ context.Context, q exporter.FlowsQuery) (any, error) {
	flows, convs, err := d.collector.Flows(q.All, q.Limit)
	if err != nil {
		return nil, err
	}
	if q.All {
		return flows, nil
	}
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
