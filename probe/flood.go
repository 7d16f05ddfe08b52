package probe

import (
	"cmp"
	"net"
	"slices"
	"time"
)

// FloodedDest is what a bridge flooded for one destination MAC: every copy its watched
// ports received of frames for that MAC, which the bridge had no FDB entry for. The
// container and interface are those whose MAC it is, "" when no watched interface has it
// (a container gone while peers still send to it).
type FloodedDest struct {
	Bridge    string    `json:"bridge"`
	MAC       string    `json:"mac"`
	Container string    `json:"container,omitempty"`
	Interface string    `json:"interface,omitempty"`
	Packets   uint64    `json:"packets"`
	Bytes     uint64    `json:"bytes"`
	LastSeen  time.Time `json:"last_seen"` // the latest copy
}

// RawFloodedMAC is one entry of the flooded_macs map of a map set: the copies of frames
// for MAC that the ports of one bridge received, per-CPU copies summed.
type RawFloodedMAC struct {
	NSCookie uint64
	Bridge   int // ifindex of the bridge in the host namespace; 0 inside a container
	MAC      [6]byte
	Totals   Totals
	LastNs   uint64 // CLOCK_MONOTONIC (coarse) of the latest copy
}

// FloodedDestinations names the flooded_macs entries of the host namespace's map set:
// the bridge by its ifindex and the destination by the port whose container interface
// has the MAC. Entries of bridges no port names any more and of interfaces attached
// inside containers (no bridge) are left out. monoNow and now convert the kernel's
// stamps to wall time. The result is sorted by bridge and MAC. It is pure.
func FloodedDestinations(ports []Port, raw []RawFloodedMAC, monoNow uint64, now time.Time) []FloodedDest {
	bridges := map[int]string{}
	owners := map[string]Port{}
	for _, p := range ports {
		if p.BridgeIndex > 0 && p.Bridge != "" {
			bridges[p.BridgeIndex] = p.Bridge
		}
		if _, seen := owners[p.MAC]; !seen && p.MAC != "" {
			owners[p.MAC] = p
		}
	}
	var out []FloodedDest
	for _, r := range raw {
		br, ok := bridges[r.Bridge]
		if r.NSCookie != 0 || !ok || r.Totals.Packets == 0 {
			continue
		}
		mac := net.HardwareAddr(r.MAC[:]).String()
		d := FloodedDest{Bridge: br, MAC: mac, Packets: r.Totals.Packets, Bytes: r.Totals.Bytes, LastSeen: MonoToWall(r.LastNs, monoNow, now)}
		if o, ok := owners[mac]; ok {
			d.Container, d.Interface = o.Container, o.Interface
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b FloodedDest) int { return cmp.Or(cmp.Compare(a.Bridge, b.Bridge), cmp.Compare(a.MAC, b.MAC)) })
	return out
}
