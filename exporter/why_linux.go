//go:build linux

package exporter

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nsutil"
)

// routeTimeout bounds each netlink request of a route lookup.
const routeTimeout = 2 * time.Second

// RouteReason says why the container's packets of c leave on c.OutInterface: it looks up,
// inside c's namespace (c.NetnsPath), the route the kernel takes to c.Remote from c.Local
// and explains it with ExplainRoute. When the lookup fails it says "route unknown: …".
func RouteReason(c Conversation) string {
	r, err := openRouter(c.NetnsPath)
	if err != nil {
		return "route unknown: " + err.Error()
	}
	defer r.close()
	return r.reason(c)
}

// FillReasons sets Reason on each conversation, opening each namespace once.
func FillReasons(convs []Conversation) {
	routers := map[string]*router{}
	errs := map[string]error{}
	defer func() {
		for _, r := range routers {
			r.close()
		}
	}()
	for i := range convs {
		p := convs[i].NetnsPath
		r, ok := routers[p]
		if !ok && errs[p] == nil {
			var err error
			if r, err = openRouter(p); err != nil {
				errs[p] = err
			} else {
				routers[p] = r
			}
		}
		if err := errs[p]; err != nil {
			convs[i].Reason = "route unknown: " + err.Error()
			continue
		}
		convs[i].Reason = r.reason(convs[i])
	}
}

// router is a netlink handle bound to a container's namespace.
type router struct {
	h     *netlink.Handle
	names map[int]string
}

func openRouter(path string) (*router, error) {
	if path == "" {
		return nil, errors.New("the container's namespace is not known")
	}
	ns, err := nsutil.Open(path)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", path, err)
	}
	if err := h.SetSocketTimeout(routeTimeout); err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink in %s: %w", path, err)
	}
	return &router{h: h}, nil
}

func (r *router) close() { r.h.Close() }

func (r *router) reason(c Conversation) string {
	matched, table, err := r.lookup(c.Local, c.Remote)
	if err != nil {
		return "route unknown: " + err.Error()
	}
	return ExplainRoute(c, matched, table)
}

// lookup returns the route the kernel picks to remote from local (`ip route get REMOTE
// from LOCAL fibmatch`) and the routes of the table it came from.
func (r *router) lookup(local, remote netip.Addr) (RouteInfo, []RouteInfo, error) {
	local, remote = local.Unmap(), remote.Unmap()
	if !local.IsValid() || !remote.IsValid() {
		return RouteInfo{}, nil, errors.New("conversation without addresses")
	}
	if r.names == nil {
		links, err := r.h.LinkList()
		if err != nil {
			return RouteInfo{}, nil, fmt.Errorf("list links: %w", err)
		}
		r.names = make(map[int]string, len(links))
		for _, l := range links {
			r.names[l.Attrs().Index] = l.Attrs().Name
		}
	}
	dst, src := net.IP(remote.AsSlice()), net.IP(local.AsSlice())
	got, err := r.h.RouteGetWithOptions(dst, &netlink.RouteGetOptions{SrcAddr: src})
	if err != nil || len(got) == 0 {
		return RouteInfo{}, nil, fmt.Errorf("route get %s from %s: %v", remote, local, orEmpty(err))
	}
	matched := r.info(got[0], remote.BitLen())
	// fibmatch names the route entry that matched (its prefix and metric); without it
	// (an older kernel) the longest prefix of the table via the same device stands in.
	fib, ferr := r.h.RouteGetWithOptions(dst, &netlink.RouteGetOptions{SrcAddr: src, FIBMatch: true})
	family := netlink.FAMILY_V4
	if remote.Is6() {
		family = netlink.FAMILY_V6
	}
	tableID := got[0].Table
	if tableID == 0 {
		tableID = mainTable
	}
	routes, err := r.h.RouteListFiltered(family, &netlink.Route{Table: tableID}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return RouteInfo{}, nil, fmt.Errorf("list routes of table %d: %w", tableID, err)
	}
	table := make([]RouteInfo, 0, len(routes))
	for _, rt := range routes {
		if rt.Type != unix.RTN_UNICAST {
			continue
		}
		table = append(table, r.info(rt, remote.BitLen()))
	}
	if ferr == nil && len(fib) > 0 {
		f := r.info(fib[0], remote.BitLen())
		matched.Dst, matched.Metric = f.Dst, f.Metric
		if matched.Dev == "" {
			matched.Dev = f.Dev
		}
		if !matched.Gw.IsValid() {
			matched.Gw = f.Gw
		}
	} else {
		best := -1
		for _, t := range table {
			if t.Dev == matched.Dev && t.Dst.Contains(remote) && t.Dst.Bits() > best {
				matched.Dst, matched.Metric, best = t.Dst, t.Metric, t.Dst.Bits()
			}
		}
	}
	matched.Table = tableID
	return matched, table, nil
}

// info converts a netlink route; a route without Dst is a default route.
func (r *router) info(rt netlink.Route, bits int) RouteInfo {
	out := RouteInfo{Dev: r.names[rt.LinkIndex], Metric: rt.Priority, Table: rt.Table}
	if rt.LinkIndex == 0 && len(rt.MultiPath) > 0 {
		out.Dev = r.names[rt.MultiPath[0].LinkIndex]
		if g, ok := netip.AddrFromSlice(rt.MultiPath[0].Gw); ok {
			out.Gw = g.Unmap()
		}
	}
	if rt.Dst != nil {
		if a, ok := netip.AddrFromSlice(rt.Dst.IP); ok {
			ones, _ := rt.Dst.Mask.Size()
			out.Dst = netip.PrefixFrom(a.Unmap(), ones)
		}
	} else if bits == 32 {
		out.Dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	} else {
		out.Dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	if g, ok := netip.AddrFromSlice(rt.Gw); ok {
		out.Gw = g.Unmap()
	}
	if s, ok := netip.AddrFromSlice(rt.Src); ok {
		out.Src = s.Unmap()
	}
	return out
}

func orEmpty(err error) string {
	if err == nil {
		return "no route"
	}
	return err.Error()
}
