//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/netctl/netctl/internal/nstest"
)

// watchEvents runs dp.Watch until the test ends and returns its events.
func watchEvents(t *testing.T, dp *Datapath, bridge string) <-chan Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	events := make(chan Event, 64)
	go func() { _ = dp.Watch(ctx, bridge, func(e Event) { events <- e }); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return events
}

// nextEvent returns the next event about host interface name, within d.
func nextEvent(t *testing.T, events <-chan Event, name string, d time.Duration) (Event, bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e := <-events:
			if e.Port.HostInterface == name {
				return e, true
			}
		case <-deadline:
			return Event{}, false
		}
	}
}

// A port whose veth peer is still in the host namespace (a container runtime plugs the
// veth into the bridge before it moves the peer into the container) is counted at once
// (by AttachBridge, as pending, or by the watcher) but reported only when the peer is in
// its namespace, under that namespace's name:
// never as "host", and not among the snapshot's ports until then.
func TestWatchNamesAPortOnceItsPeerMoved(t *testing.T) {
	l, opts := dpLab(t)
	dp, err := Open(l.Host.NS, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dp.Close() }) // after the watcher stops
	ns := nstest.NewNS(t)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "veth-pend"}, PeerName: "vp-peer"}
	if err := l.Host.Netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Host.Netlink.LinkDel(veth) })
	if err := l.Host.Netlink.LinkSetMaster(veth, mustLink(t, l.Host.Netlink, "docker0")); err != nil {
		t.Fatal(err)
	}
	at, err := dp.AttachBridge(context.Background(), "docker0")
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(at, func(a Attachment) bool { return a.HostInterface == "veth-pend" }); i < 0 || !at[i].Pending || at[i].Container != "" {
		t.Errorf("attachments: %+v, want veth-pend pending, with no container", at)
	}
	events := watchEvents(t, dp, "docker0")
	if e, ok := nextEvent(t, events, "veth-pend", 600*time.Millisecond); ok {
		t.Fatalf("reported before its peer moved: %+v", e)
	}
	idx := mustLink(t, l.Host.Netlink, "veth-pend").Attrs().Index
	dp.mu.Lock()
	_, attached := dp.attachedMode(dp.sets[0], idx) // TCX links pinned, or tc filters
	dp.mu.Unlock()
	if !attached {
		t.Error("not attached while its peer was still in the host namespace")
	}
	snap, err := dp.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(snap.Interfaces, func(c InterfaceCounters) bool { return c.HostInterface == "veth-pend" }) {
		t.Error("an unnamed port in the snapshot")
	}
	if err := l.Host.Netlink.LinkSetNsFd(mustLink(t, l.Host.Netlink, "vp-peer"), int(ns.Handle)); err != nil {
		t.Fatal(err)
	}
	e, ok := nextEvent(t, events, "veth-pend", 2*time.Second)
	if !ok {
		t.Fatal("not reported after its peer moved")
	}
	if e.Kind != "attached" || e.Port.Container != ns.Name || e.Port.Interface != "vp-peer" || e.Port.Bridge != "docker0" {
		t.Errorf("event %+v, want veth-pend attached for %s vp-peer on docker0", e, ns.Name)
	}
	snap, err = dp.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(snap.Interfaces, func(c InterfaceCounters) bool {
		return c.HostInterface == "veth-pend" && c.Container == ns.Name
	}) {
		t.Errorf("the named port not in the snapshot: %+v", snap.Interfaces)
	}
}

// The watcher attaches the ports of every watched bridge; a bridge forgotten (its
// network removed) is watched no more and has no unobserved series.
func TestWatchSeveralBridges(t *testing.T) {
	l, opts := dpLab(t)
	dp, err := Open(l.Host.NS, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dp.Close() }) // after the watcher stops
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br-second"}}
	if err := l.Host.Netlink.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	if _, err := dp.AttachBridge(context.Background(), "br-second"); err != nil {
		t.Fatal(err)
	}
	events := watchEvents(t, dp, "docker0")
	plug := func(name string) {
		ns := nstest.NewNS(t)
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, MasterIndex: br.Attrs().Index}, PeerName: "eth0", PeerNamespace: netlink.NsFd(ns.Handle)}
		if err := l.Host.Netlink.LinkAdd(v); err != nil {
			t.Fatal(err)
		}
	}
	plug("veth-second")
	if e, ok := nextEvent(t, events, "veth-second", 2*time.Second); !ok || e.Kind != "attached" || e.Port.Bridge != "br-second" {
		t.Fatalf("port of the second bridge: %+v %v", e, ok)
	}
	if got := dp.Bridges(); !slices.Equal(got, []string{"br-second", "docker0"}) {
		t.Errorf("Bridges = %v", got)
	}
	dp.ForgetBridge("br-second")
	plug("veth-third")
	if e, ok := nextEvent(t, events, "veth-third", 600*time.Millisecond); ok {
		t.Errorf("a port of a forgotten bridge reported: %+v", e)
	}
	snap, err := dp.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range snap.Bridges {
		if b.Name == "br-second" {
			t.Errorf("a forgotten bridge still has a status: %+v", snap.Bridges)
		}
	}
}
