//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"errors"
	"slices"
	"time"
)

// PendingNameTimeout is how long a new port waits to be named by its container before
// it is reported with what is known (a Docker namespace file, nsid:N).
const PendingNameTimeout = 5 * time.Second

// namer names ports with the datapath's Docker view.
func (d *Datapath) namer(ctx context.Context) *Namer {
	return NewNamer(ctx, d.sets[0].nl, d.opts.Docker)
}

// Bridges returns the bridges whose ports the datapath attaches to.
func (d *Datapath) Bridges() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.bridges)
}

// WatchBridge adds bridge to the bridges whose new ports Watch attaches.
func (d *Datapath) WatchBridge(bridge string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !slices.Contains(d.bridges, bridge) {
		d.bridges = append(d.bridges, bridge)
	}
}

// AttachBridges attaches again to every port of every bridge the datapath watches (after
// a link watch failed, to catch up with the ports that came meanwhile).
func (d *Datapath) AttachBridges(ctx context.Context) ([]Attachment, error) {
	var out []Attachment
	var errs []error
	for _, br := range d.Bridges() {
		at, err := d.AttachBridge(ctx, br)
		out = append(out, at...)
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// ForgetBridge stops watching bridge (its Docker network was removed): its ports are
// no longer attached as they come, and it has no netctl_bridge_ports_unobserved series.
// Ports already attached are forgotten as they vanish, as always.
func (d *Datapath) ForgetBridge(bridge string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.bridges = slices.DeleteFunc(d.bridges, func(b string) bool { return b == bridge })
}

// ForgetNames has the next snapshot describe the ports again (a container was renamed,
// started or removed).
func (d *Datapath) ForgetNames() {
	d.mu.Lock()
	d.portsOK = false
	d.mu.Unlock()
}

// namePending names the ports attached before their container was known, now that it
// may be, and returns an "attached" event for each one named; those still unknown after
// PendingNameTimeout are reported as they are. Ports gone meanwhile are dropped.
func (d *Datapath) namePending(ctx context.Context) []Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.pending) == 0 {
		return nil
	}
	namer := d.namer(ctx)
	var out []Event
	for ifindex, since := range d.pending {
		l, err := d.sets[0].nl.LinkByIndex(ifindex)
		if err != nil {
			delete(d.pending, ifindex)
			continue
		}
		p, named := namer.Name(l)
		if !named && time.Since(since) < PendingNameTimeout {
			continue
		}
		delete(d.pending, ifindex)
		if err := d.describeHostPort(l, p); err != nil {
			out = append(out, Event{Kind: "error", Port: p, Error: err})
		}
		if m, ok := d.attachedMode(d.sets[0], ifindex); ok {
			p.Mode = string(m)
		}
		out = append(out, Event{Kind: "attached", Port: p})
		d.portsOK = false
	}
	return out
}
