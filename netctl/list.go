//go:build linux

package netctl

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/netctl/netctl/internal/nlutil"
	"github.com/netctl/netctl/internal/nsutil"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Interface is one row of `nic list`.
type Interface struct {
	Container    string         `json:"container"`
	Interface    string         `json:"interface"`
	Addresses    []netip.Prefix `json:"addresses"`
	HostPeer     string         `json:"host_peer,omitempty"`
	Bridge       string         `json:"bridge,omitempty"`
	DefaultRoute bool           `json:"default_route"` // owns a default route of the main table
	ByNetctl     bool           `json:"by_netctl"`
	ContainerID  string         `json:"container_id,omitempty"` // Docker's
	Persisted    bool           `json:"persisted"`              // nic add --persist: put back after a restart
	Present      bool           `json:"present"`                // false: persisted, not there now
	// Incomplete: netctl's add (or del) of it was interrupted (killed); the next
	// nic add rolls it back and redoes it, nic del finishes the rollback.
	Incomplete bool `json:"incomplete,omitempty"`
}

// ListInterfaces describes the container's interfaces (loopback left out).
func (e *Env) ListInterfaces() ([]Interface, error) {
	links, err := e.ObserveContainerLinks()
	if err != nil {
		return nil, err
	}
	owners := map[string]bool{}
	routes, err := nlutil.Dump(func() ([]netlink.Route, error) { return e.CtrNL.RouteList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("list routes in %s: %w", e.Ctr.Label, err)
	}
	for _, r := range routes {
		if d, ok := nlutil.Prefix(r.Dst); (!ok || d.Bits() == 0) && r.LinkIndex > 0 {
			if l, err := e.CtrNL.LinkByIndex(r.LinkIndex); err == nil {
				owners[l.Attrs().Name] = true
			}
		}
	}
	if unlock, err := e.store.lock(e.Ctr.Cookie, 0); err == nil { // busy: another netctl prunes
		e.pruneStale()
		unlock()
	}
	ours := map[string]*Record{}
	for _, name := range e.store.names(e.Ctr.Cookie) {
		if r, err := e.store.read(e.Ctr.Cookie, name); err == nil && e.recordLive(r) {
			ours[name] = r
		}
	}
	var out []Interface
	for _, l := range links {
		if l.Name == "lo" {
			continue
		}
		r := ours[l.Name]
		out = append(out, Interface{
			Container: e.Ctr.Label, Interface: l.Name, Addresses: l.Addrs,
			HostPeer: l.HostPeer, Bridge: l.OnBridge, DefaultRoute: owners[l.Name],
			ByNetctl: r != nil, Incomplete: r != nil && !r.Complete, ContainerID: e.Ctr.ID, Present: true,
		})
	}
	return out, nil
}

// AllContainers resolves every container netctl can see, as nsutil.List finds them
// (running Docker containers when the engine answers, named namespaces, Docker's
// namespace files): each namespace once, by its best name, the host namespace left out.
func AllContainers(ctx context.Context, host netns.NsHandle) ([]*Container, error) {
	hostIno, err := nsutil.Inode(host)
	if err != nil {
		return nil, err
	}
	seen := map[uint64]bool{hostIno: true}
	if self, err := netns.Get(); err == nil { // the namespace netctl runs in is no container
		if ino, err := nsutil.Inode(self); err == nil {
			seen[ino] = true
		}
		self.Close()
	}
	var out []*Container
	keep := func(c *Container, err error) {
		if err != nil || c == nil {
			return
		}
		if seen[c.Inode] {
			c.Close()
			return
		}
		seen[c.Inode] = true
		out = append(out, c)
	}
	for _, e := range nsutil.List(ctx, nsutil.ListOptions{}) {
		switch e.Source {
		case nsutil.FromDocker:
			keep(Resolve(ctx, Ref{RefDocker, e.ID})) // inspected again: a restart in between is caught
		case nsutil.FromNamed:
			keep(Resolve(ctx, Ref{RefNetns, e.Name}))
		case nsutil.FromDockerDir:
			keep(Resolve(ctx, Ref{RefPath, e.Path}))
		}
	}
	return out, nil
}
