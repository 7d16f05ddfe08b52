//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/netctl/netctl/probe"
)

// watch keeps the bridges' ports attached until ctx ends. When the link subscription
// fails it reports the error through /healthz, waits a little, catches up (ports that
// came or went meanwhile) and watches again.
func (d *Daemon) watch(ctx context.Context) {
	dp := d.opts.Datapath
	for _, br := range d.opts.Bridges {
		dp.WatchBridge(br)
	}
	const first, longest = time.Second, time.Minute
	var backoff time.Duration
	for {
		started := time.Now()
		err := dp.Watch(ctx, "", d.logEvent)
		if ctx.Err() != nil {
			return
		}
		backoff = nextBackoff(backoff, time.Since(started), first, longest)
		if err == nil {
			err = errors.New("link watch ended")
		}
		d.log.Error("watching links stopped; retrying", "err", err, "in", backoff)
		d.watchErr.Store(&err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		at, err := dp.AttachBridges(ctx)
		for _, a := range at {
			d.logAttach(a)
		}
		if err != nil {
			d.log.Error("catch up with the bridge's ports", "err", err)
			continue
		}
		d.watchErr.Store(nil)
	}
}

// nextBackoff is the wait before watching again, given the previous wait (0: none yet)
// and how long the watch that just ended ran: first at first, doubled (up to longest)
// while watches fail at once, first again after a watch that ran for longest or more,
// so that one failure now and then never leaves serve blind for long.
func nextBackoff(prev, ran, first, longest time.Duration) time.Duration {
	if prev == 0 || ran >= longest {
		return first
	}
	return min(2*prev, longest)
}

func (d *Daemon) logEvent(e probe.Event) {
	switch e.Kind {
	case "attached":
		d.log.Info("port attached", "container", e.Port.Container, "interface", e.Port.Interface, "host_interface", e.Port.HostInterface, "bridge", e.Port.Bridge, "mode", e.Port.Mode)
	case "gone":
		d.log.Info("port gone", "host_interface", e.Port.HostInterface, "ifindex", e.Port.Ifindex)
	default:
		d.log.Error("watch", "host_interface", e.Port.HostInterface, "err", e.Error)
	}
}

func (d *Daemon) logAttach(a probe.Attachment) {
	if a.Pending {
		return // the watcher reports it once its container is known
	}
	state := "attached"
	if a.Adopted {
		state = "adopted"
	}
	d.log.Info("port "+state, "container", a.Container, "interface", a.Interface, "host_interface", a.HostInterface, "bridge", a.Bridge, "mode", a.Mode)
}
