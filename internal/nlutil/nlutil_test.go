//go:build linux

package nlutil

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestConversions(t *testing.T) {
	p := netip.MustParsePrefix("172.17.0.99/24")
	got, ok := Prefix(IPNet(p))
	if !ok || got != p {
		t.Errorf("Prefix(IPNet(%s)) = %s, %v", p, got, ok)
	}
	if _, ok := Prefix(nil); ok {
		t.Error("Prefix(nil) ok")
	}
	if d := Dst(netlink.Route{}, netlink.FAMILY_V6); d.String() != "::/0" {
		t.Errorf("default v6 dst = %s", d)
	}
	if d := Dst(netlink.Route{}, netlink.FAMILY_V4); d.String() != "0.0.0.0/0" {
		t.Errorf("default v4 dst = %s", d)
	}
	if a, ok := Addr(net.ParseIP("172.17.0.1")); !ok || !a.Is4() {
		t.Errorf("Addr of a v4-in-16 IP = %s, %v", a, ok)
	}
}

func TestDumpRetries(t *testing.T) {
	calls := 0
	v, err := Dump(func() (int, error) {
		calls++
		if calls < 3 {
			return 0, netlink.ErrDumpInterrupted
		}
		return 7, nil
	})
	if v != 7 || err != nil || calls != 3 {
		t.Errorf("Dump = %d, %v after %d calls", v, err, calls)
	}
	boom := errors.New("boom")
	if _, err := Dump(func() (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("Dump lost the error: %v", err)
	}
}
