//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// The rx checks of a bridge's ports name their container interfaces' MACs and the
// bridge, follow a MAC changed inside a container while Watch runs, and go with the port.
func TestRxPortsFollowContainers(t *testing.T) {
	t.Parallel()
	l, opts := dpLab(t)
	dp, err := Open(l.Host.NS, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	br := mustLink(t, l.Host.Netlink, "docker0")
	rx := func(host string) RxPort {
		t.Helper()
		var p RxPort
		dp.mu.Lock()
		defer dp.mu.Unlock()
		s := dp.sets[0]
		if err := lookupRxPort(s.objs.RxPortsByIndex, s.objs.RxPorts, mustLink(t, l.Host.Netlink, host).Attrs().Index, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := func(mac net.HardwareAddr) RxPort {
		return RxPort{Check: RxPeer, MAC: [6]byte(mac), Bridge: uint32(br.Attrs().Index)}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan Event, 16)
	done := make(chan error, 1)
	go func() { done <- dp.Watch(ctx, "docker0", func(e Event) { events <- e }) }()
	for range 3 {
		select {
		case <-events:
		case <-time.After(5 * time.Second):
			t.Fatal("existing ports not attached")
		}
	}
	for _, c := range []struct {
		host string
		eth  net.HardwareAddr
	}{
		{l.Container1.HostVeth, mustLink(t, l.Container1.Netlink, "eth0").Attrs().HardwareAddr},
		{l.Container2.HostVeth, mustLink(t, l.Container2.Netlink, "eth0").Attrs().HardwareAddr},
	} {
		if got := rx(c.host); got != want(c.eth) {
			t.Errorf("rx check of %s = %+v, want %+v", c.host, got, want(c.eth))
		}
	}

	// container2's eth0 gets a new MAC, in its own namespace.
	mac := net.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0x00, 0x33}
	eth0 := mustLink(t, l.Container2.Netlink, "eth0")
	if err := l.Container2.Netlink.LinkSetHardwareAddr(eth0, mac); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(2 * time.Second)
	for got := rx(l.Container2.HostVeth); got != want(mac); got = rx(l.Container2.HostVeth) {
		select {
		case e := <-events:
			if e.Kind == "error" {
				t.Fatalf("event %+v", e)
			}
		case <-deadline:
			t.Fatalf("rx check of %s = %+v after the MAC changed, want %+v", l.Container2.HostVeth, got, want(mac))
		case <-time.After(20 * time.Millisecond):
		}
	}

	// The port goes: its rx check goes with it (its index may be reused).
	idx := mustLink(t, l.Host.Netlink, l.Container2.HostVeth).Attrs().Index
	if err := l.Host.Netlink.LinkDel(mustLink(t, l.Host.Netlink, l.Container2.HostVeth)); err != nil {
		t.Fatal(err)
	}
	deadline = time.After(2 * time.Second)
	for {
		var p RxPort
		dp.mu.Lock()
		err := lookupRxPort(dp.sets[0].objs.RxPortsByIndex, dp.sets[0].objs.RxPorts, idx, &p)
		dp.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if p == (RxPort{}) {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("rx check of the removed port left: %+v", p)
		case <-time.After(20 * time.Millisecond):
		}
	}
	// container1's port moves to another bridge: its check names that one.
	brx := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br-x"}}
	if err := l.Host.Netlink.LinkAdd(brx); err != nil {
		t.Fatal(err)
	}
	brx2 := mustLink(t, l.Host.Netlink, "br-x")
	if err := l.Host.Netlink.LinkSetMaster(mustLink(t, l.Host.Netlink, l.Container1.HostVeth), brx2); err != nil {
		t.Fatal(err)
	}
	eth0c1 := mustLink(t, l.Container1.Netlink, "eth0").Attrs().HardwareAddr
	want1 := RxPort{Check: RxPeer, MAC: [6]byte(eth0c1), Bridge: uint32(brx2.Attrs().Index)}
	deadline = time.After(2 * time.Second)
	for got := rx(l.Container1.HostVeth); got != want1; got = rx(l.Container1.HostVeth) {
		select {
		case <-deadline:
			t.Fatalf("rx check of %s = %+v after it moved to br-x, want %+v", l.Container1.HostVeth, got, want1)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch: %v", err)
	}
}
