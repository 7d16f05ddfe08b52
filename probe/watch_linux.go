//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Event is something the watcher did.
type Event struct {
	Kind  string // "attached", "gone" or "error"
	Port  Port
	Error error
}

// Watch keeps the ports of the watched bridges (those AttachBridge was given, and
// bridge, if not "") attached until ctx ends: it subscribes to the host namespace's link
// events (the existing links first), attaches every new port as it appears and forgets
// every registered interface that vanishes (pinned links, map entries, registry).
// Meanwhile FollowMACs keeps the ports' rx checks in step with their container
// interfaces. onEvent, if set, hears of each; a new port is reported once who is behind
// it is known (its container started), or after PendingNameTimeout.
func (d *Datapath) Watch(ctx context.Context, bridge string, onEvent func(Event)) error {
	if bridge != "" {
		d.WatchBridge(bridge)
	}
	ctx, cancel := context.WithCancel(ctx)
	followErr := make(chan error, 1)
	go func() { followErr <- d.FollowMACs(ctx, onEvent) }()
	defer func() { cancel(); <-followErr }() //nolint:errcheck // only waits for the follower: its error ended the watch below, or ctx did
	updates := make(chan netlink.LinkUpdate, 256)
	done := make(chan struct{})
	defer close(done)
	// The library calls ErrorCallback for notices it then carries on from (a message
	// from another sender than the kernel, a dump interrupted by a change, one message
	// it could not parse) as well as for the receive failure that ends the subscription,
	// after which it closes updates. So a notice is reported, not fatal: anyone in the
	// namespace can send the socket a stray message. A dump cut short may have missed
	// ports, so the bridges are listed again.
	notices := make(chan error, 1)
	host := d.host
	err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{
		Namespace:    &host,
		ListExisting: true,
		ErrorCallback: func(err error) {
			select {
			case notices <- err:
			default: // one pending notice is enough; the rest are the same story
			}
		},
	})
	if err != nil {
		return fmt.Errorf("watch links: %w", err)
	}
	emit := func(e Event) {
		if onEvent != nil {
			onEvent(e)
		}
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var lastNotice error
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			for _, e := range d.namePending(ctx) {
				emit(e)
			}
		case err := <-notices:
			lastNotice = err
			emit(Event{Kind: "error", Error: fmt.Errorf("watch links: %w", err)})
			if errors.Is(err, netlink.ErrDumpInterrupted) {
				for _, e := range d.resync(ctx) {
					emit(e)
				}
			}
		case err := <-followErr:
			followErr <- err // for the deferred wait
			if ctx.Err() != nil {
				return nil // the follower ended with ctx, which select may see second
			}
			if err == nil {
				err = errors.New("ended")
			}
			return fmt.Errorf("follow MAC changes: %w", err)
		case u, ok := <-updates:
			if !ok {
				if lastNotice != nil {
					return fmt.Errorf("watch links: subscription closed: %w", lastNotice)
				}
				return fmt.Errorf("watch links: subscription closed")
			}
			if e, ok := d.handle(ctx, u); ok {
				emit(e)
			}
		}
	}
}

// handle reacts to one link event; ok is false when there was nothing to do.
func (d *Datapath) handle(ctx context.Context, u netlink.LinkUpdate) (Event, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := u.Attrs()
	registered := slices.ContainsFunc(d.reg.Ports, func(p regPort) bool { return p.NSCookie == 0 && p.Ifindex == a.Index })
	if u.Header.Type == unix.RTM_DELLINK {
		if !registered || u.Family == unix.AF_BRIDGE {
			return Event{}, false // AF_BRIDGE: it left its bridge, the link is still there
		}
		p := Port{Container: "", Interface: a.Name, HostInterface: a.Name, Ifindex: a.Index}
		if err := d.ForgetHostLink(a.Index); err != nil {
			return Event{Kind: "error", Port: p, Error: err}, true
		}
		return Event{Kind: "gone", Port: p}, true
	}
	if a.MasterIndex == 0 {
		return Event{}, false
	}
	br, err := d.sets[0].nl.LinkByIndex(a.MasterIndex)
	if err != nil || !slices.Contains(d.bridges, br.Attrs().Name) {
		return Event{}, false
	}
	if registered && tcxPinned(d.sets[0], a.Index) || registered && d.tcAttached(d.sets[0], a.Index) {
		return Event{}, false
	}
	at, err := d.attachHostLink(d.namer(ctx), u.Link)
	if err != nil {
		// A port being deleted: ENODEV, or tc's "Link not found" before RTM_DELLINK arrives
		// (asked again: the not-found may have been about another link).
		if errors.Is(err, unix.ENODEV) {
			return Event{}, false // its RTM_DELLINK follows
		}
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			if _, lerr := d.sets[0].nl.LinkByIndex(a.Index); errors.As(lerr, &notFound) {
				return Event{}, false // its RTM_DELLINK follows
			}
		}
		return Event{Kind: "error", Port: Port{Interface: a.Name, HostInterface: a.Name, Ifindex: a.Index}, Error: err}, true
	}
	if _, pending := d.pending[a.Index]; pending {
		return Event{}, false // reported once named
	}
	return Event{Kind: "attached", Port: at.Port}, true
}

// resync attaches the watched bridges' ports again after the watcher may have missed
// link events, and reports the ports it newly attached.
func (d *Datapath) resync(ctx context.Context) []Event {
	at, err := d.AttachBridges(ctx)
	var out []Event
	for _, a := range at {
		if !a.Adopted && !a.Pending {
			out = append(out, Event{Kind: "attached", Port: a.Port})
		}
	}
	if err != nil {
		out = append(out, Event{Kind: "error", Error: fmt.Errorf("catch up with the bridges' ports: %w", err)})
	}
	return out
}
