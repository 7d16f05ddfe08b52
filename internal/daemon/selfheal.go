//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/netctl/netctl/probe"
)

// DefaultCheckInterval is how often serve checks that it still counts (Options'
// CheckInterval): a detach by someone else is repaired within a few of these.
const DefaultCheckInterval = time.Second

// countingSource is what the collector reads: the datapath, except while serve knows
// it does not count (its programs detached, its pins gone), when every read fails with
// why, so that netctl_up is 0 and no counter is exported stale.
type countingSource struct{ d *Daemon }

// Counters implements exporter.Source.
func (s countingSource) Counters(ctx context.Context) (probe.Counters, error) {
	if err := s.d.notCounting.Load(); err != nil {
		return probe.Counters{}, *err
	}
	return s.d.opts.Datapath.Counters(ctx)
}

// ReadFlows implements exporter.Source.
func (s countingSource) ReadFlows(ctx context.Context, fn func(*probe.Entry)) (probe.FlowRead, error) {
	if err := s.d.notCounting.Load(); err != nil {
		return probe.FlowRead{}, *err
	}
	return s.d.opts.Datapath.ReadFlows(ctx, fn)
}

// health is what /healthz reports: nil while serve counts and watches, else why not.
func (d *Daemon) health() error {
	var errs []error
	for _, p := range []*error{d.notCounting.Load(), d.watchErr.Load()} {
		if p != nil {
			errs = append(errs, *p)
		}
	}
	return errors.Join(errs...)
}

// selfHeal makes serve own its attachment: every CheckInterval it checks that the maps
// it reads are the pinned ones and that what it attached carries programs counting into
// them (probe's Check). When not, it says so (netctl_up 0, /healthz), opens the maps
// again from the pins (adopting another netctl's, or pinning new ones), attaches again,
// logs it and counts it (netctl_reattach_total). The collector's memory keeps the
// exported counters from going down across the change of maps. A failed repair is tried
// again at the next check.
func (d *Daemon) selfHeal(ctx context.Context) {
	t := time.NewTicker(d.opts.CheckInterval)
	defer t.Stop()
	lastFailure := "" // logged once until it changes
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := d.opts.Datapath.Check()
		if err == nil {
			if d.notCounting.Swap(nil) != nil {
				d.log.Info("counting again")
			}
			lastFailure = ""
			continue
		}
		if d.notCounting.Load() == nil {
			d.log.Warn("not counting; attaching again", "why", err)
		}
		rerr := d.reattach(ctx, err)
		if ctx.Err() != nil {
			return
		}
		// Healed when all it counted counts again, whatever else failed (a bridge
		// removed meanwhile, say).
		if cerr := d.opts.Datapath.Check(); cerr != nil {
			werr := errors.Join(cerr, rerr)
			d.notCounting.Store(&werr)
			if werr.Error() != lastFailure {
				d.log.Error("attached again, still not counting (retried every check)", "why", werr, "every", d.opts.CheckInterval)
			}
			lastFailure = werr.Error()
			continue
		}
		if rerr != nil {
			d.log.Warn("attached again, with errors", "err", rerr)
		}
		d.reattaches.Add(1)
		d.notCounting.Store(nil)
		lastFailure = ""
		d.log.Info("attached again: counting", "reattaches", d.reattaches.Load())
	}
}

// reattach opens the datapath's maps again from the pins, the collector taking what
// the old maps counted first and the new maps' counts whole (exporter's Restart), and
// attaches again: every bridge the datapath watches, and what serve attaches at start
// (Options.Attach: the --iface interfaces). From the switch of maps until the end,
// serve does not count (why): reads fail with it.
func (d *Daemon) reattach(ctx context.Context, why error) error {
	err := d.collector.Restart(func() (bool, error) {
		d.notCounting.Store(&why)
		return d.opts.Datapath.Reload()
	})
	if err != nil {
		return err
	}
	at, err := d.opts.Datapath.AttachBridges(ctx)
	if d.opts.Attach != nil {
		more, aerr := d.opts.Attach(ctx)
		at, err = append(at, more...), errors.Join(err, aerr)
	}
	for _, a := range at {
		if !a.Adopted {
			d.logAttach(a)
		}
	}
	return err
}
