//go:build linux

package analysis

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nlutil"
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

// FillReasons sets Reason on each conversation, as RouteReason says it, opening each
// namespace once.
func FillReasons(convs []Conversation) {
	eachRouted(len(convs), func(i int) string { return convs[i].NetnsPath },
		func(i int, r *router, err error) {
			convs[i].Reason = reasonOr(err, func() string { return r.reason(convs[i]) })
		})
}

// eachRouted calls fn for each of n items with a router in the item's namespace (path),
// opening each namespace once, or the error that opening it gave.
func eachRouted(n int, path func(int) string, fn func(i int, r *router, err error)) {
	routers := map[string]*router{}
	errs := map[string]error{}
	defer func() {
		for _, r := range routers {
			r.close()
		}
	}()
	for i := range n {
		p := path(i)
		r, ok := routers[p]
		if !ok && errs[p] == nil {
			var err error
			if r, err = openRouter(p); err != nil {
				errs[p] = err
			} else {
				routers[p] = r
			}
		}
		fn(i, r, errs[p])
	}
}

// reasonOr is reason(), or "route unknown: …" when the namespace could not be opened.
func reasonOr(err error, reason func() string) string {
	if err != nil {
		return "route unknown: " + err.Error()
	}
	return reason()
}

// router is a netlink handle bound to a container's namespace.
type router struct {
	h     *netlink.Handle
	names map[int]string // ifindex → name, read at the first lookup
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
	h, err := nsutil.Handle(ns)
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
// from LOCAL fibmatch`, with the device and gateway the lookup chose) and the unicast
// routes of the table it came from.
func (r *router) lookup(local, remote netip.Addr) (nlutil.Route, []nlutil.Route, error) {
	if !local.IsValid() {
		return nlutil.Route{}, nil, errors.New("conversation without addresses")
	}
	_, matched, table, err := r.routes(local, remote)
	return matched, table, err
}

// routes returns what the kernel answers to `ip route get REMOTE [from LOCAL]` (chosen:
// its device, gateway and the source it picks), the table entry behind it (matched, as
// fibmatch names it) and the unicast routes of that table. An invalid local asks as an
// unbound socket does, with no source.
func (r *router) routes(local, remote netip.Addr) (chosen, matched nlutil.Route, table []nlutil.Route, err error) {
	local, remote = local.Unmap(), remote.Unmap()
	if !remote.IsValid() {
		return nlutil.Route{}, nlutil.Route{}, nil, errors.New("conversation without addresses")
	}
	if r.names == nil {
		links, err := nlutil.Dump(r.h.LinkList)
		if err != nil {
			return nlutil.Route{}, nlutil.Route{}, nil, fmt.Errorf("list links: %w", err)
		}
		r.names = make(map[int]string, len(links))
		for _, l := range links {
			r.names[l.Attrs().Index] = l.Attrs().Name
		}
	}
	family := netlink.FAMILY_V4
	if remote.Is6() {
		family = netlink.FAMILY_V6
	}
	dst := net.IP(remote.AsSlice())
	var src net.IP
	if local.IsValid() {
		src = net.IP(local.AsSlice())
	}
	got, err := r.h.RouteGetWithOptions(dst, &netlink.RouteGetOptions{SrcAddr: src})
	if err != nil || len(got) == 0 {
		return nlutil.Route{}, nlutil.Route{}, nil, fmt.Errorf("route get %s from %s: %v", remote, orAny(local), orEmpty(err))
	}
	chosen = nlutil.RouteOf(got[0], r.names, family)
	tableID := got[0].Table
	if tableID == 0 {
		tableID = nlutil.MainTable
	}
	routes, err := nlutil.Dump(func() ([]netlink.Route, error) {
		return r.h.RouteListFiltered(family, &netlink.Route{Table: tableID}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nlutil.Route{}, nlutil.Route{}, nil, fmt.Errorf("list routes of table %d: %w", tableID, err)
	}
	table = make([]nlutil.Route, 0, len(routes))
	for _, rt := range routes {
		if rt.Type != unix.RTN_UNICAST {
			continue
		}
		table = append(table, nlutil.RouteOf(rt, r.names, family))
	}
	fib, ok := r.fibMatch(dst, src, family)
	return chosen, matchedEntry(chosen, fib, ok, table, remote), table, nil
}

// orAny names an unset source as ip route get's output would: any.
func orAny(a netip.Addr) string {
	if !a.IsValid() {
		return "any"
	}
	return a.String()
}

// fibMatch returns the route entry `ip route get … fibmatch` names, or false on a kernel
// without fibmatch.
func (r *router) fibMatch(dst, src net.IP, family int) (nlutil.Route, bool) {
	fib, err := r.h.RouteGetWithOptions(dst, &netlink.RouteGetOptions{SrcAddr: src, FIBMatch: true})
	if err != nil || len(fib) == 0 {
		return nlutil.Route{}, false
	}
	return nlutil.RouteOf(fib[0], r.names, family), true
}

func orEmpty(err error) string {
	if err == nil {
		return "no route"
	}
	return err.Error()
}

// WrongSourceReason says why the container answers w from w.RepliedFrom: it looks up,
// inside w's namespace (w.NetnsPath), the route to w.Remote with no source, as a server
// bound to 0.0.0.0 does, and explains it with ExplainWrongSource.
func WrongSourceReason(w WrongSource) string {
	r, err := openRouter(w.NetnsPath)
	if err != nil {
		return "route unknown: " + err.Error()
	}
	defer r.close()
	return r.wrongSourceReason(w)
}

// FillWrongSourceReasons sets Reason on each wrong-source conversation, as
// WrongSourceReason says it, opening each namespace once.
func FillWrongSourceReasons(ws []WrongSource) {
	eachRouted(len(ws), func(i int) string { return ws[i].NetnsPath },
		func(i int, r *router, err error) {
			ws[i].Reason = reasonOr(err, func() string { return r.wrongSourceReason(ws[i]) })
		})
}

func (r *router) wrongSourceReason(w WrongSource) string {
	chosen, matched, table, err := r.routes(netip.Addr{}, w.Remote)
	if err != nil {
		return "route unknown: " + err.Error()
	}
	return ExplainWrongSource(w, chosen, matched, table)
}
