package probe

import (
	"reflect"
	"testing"
	"time"
)

func TestFloodedDestinations(t *testing.T) {
	ports := []Port{
		{Container: "c1", Interface: "eth0", HostInterface: "veth1", Bridge: "docker0", BridgeIndex: 3, MAC: "02:42:ac:11:00:02"},
		{Container: "c1", Interface: "eth1", HostInterface: "veth9", Bridge: "docker0", BridgeIndex: 3, MAC: "02:42:ac:11:00:63"},
		{Container: "c2", Interface: "eth0", HostInterface: "veth2", Bridge: "br-apps", BridgeIndex: 7, MAC: "02:42:ac:12:00:02"},
		{Container: "c3", Interface: "eth0", NSCookie: 99, InContainer: true, MAC: "02:42:ac:12:00:03"},
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tot := func(p uint64) Totals { return Totals{Packets: p, Bytes: 100 * p} }
	raw := []RawFloodedMAC{
		{Bridge: 3, MAC: [6]byte{0x02, 0x42, 0xac, 0x11, 0, 0x02}, Totals: tot(400), LastNs: 1e9}, // c1 eth0, flooded on docker0 2 s ago
		{Bridge: 7, MAC: [6]byte{0x02, 0x42, 0xac, 0x11, 0, 0x02}, Totals: tot(2)},                // the same MAC on another bridge
		{Bridge: 3, MAC: [6]byte{0x02, 0x42, 0xac, 0x11, 0, 0x77}, Totals: tot(5)},                // no watched interface has it
		{Bridge: 3, MAC: [6]byte{0x02, 0x42, 0xac, 0x11, 0, 0x63}, Totals: tot(0)},                // an entry with nothing yet
		{Bridge: 12, MAC: [6]byte{0x02, 0x42, 0xac, 0x11, 0, 0x02}, Totals: tot(9)},               // a bridge no port names
		{NSCookie: 99, MAC: [6]byte{0x02, 0x42, 0xac, 0x11, 0, 0x02}, Totals: tot(9)},             // inside a container: no bridge
		{NSCookie: 99, Bridge: 3, MAC: [6]byte{0x02, 0x42, 0xac, 0x11, 0, 2}, Totals: tot(1)},     // another set's bridge numbers are not the host's
	}
	want := []FloodedDest{
		{Bridge: "br-apps", MAC: "02:42:ac:11:00:02", Container: "c1", Interface: "eth0", Packets: 2, Bytes: 200},
		{Bridge: "docker0", MAC: "02:42:ac:11:00:02", Container: "c1", Interface: "eth0", Packets: 400, Bytes: 40000, LastSeen: now.Add(-2 * time.Second)},
		{Bridge: "docker0", MAC: "02:42:ac:11:00:77", Packets: 5, Bytes: 500},
	}
	if got := FloodedDestinations(ports, raw, 3e9, now); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if got := FloodedDestinations(ports, nil, 0, time.Time{}); got != nil {
		t.Errorf("no entries: %+v", got)
	}
}
