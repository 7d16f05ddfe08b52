//go:build linux

package netctl

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nlutil"
)

// The kinds that change the container's routing: the default route and source routing.

// routeDelKind deletes a route; its undo puts it back.
var routeDelKind = kind{
	do: func(e *Env, s Step) error {
		r, err := e.route(*s.Route)
		if err != nil {
			return err
		}
		if err := e.CtrNL.RouteDel(r); err != nil {
			return fmt.Errorf("delete route %s: %w", s.Route, err)
		}
		return nil
	},
	undo: func(e *Env, s Step) error {
		r, err := e.route(*s.Route)
		if errors.Is(err, errNoDev) {
			// The route's interface is gone (another NIC of netctl's, removed out of
			// order): there is nothing to put back.
			return nil
		}
		if err != nil {
			return err
		}
		return ignore(e.CtrNL.RouteAdd(r), unix.EEXIST)
	},
	cmd: func(s Step, v, _ NSView) []string {
		return []string{v.IP(append([]string{"route", "del"}, s.Route.Args()...)...)}
	},
	undoCmd: func(s Step, v NSView) []string {
		return []string{v.IP(append([]string{"route", "add"}, s.Route.Args()...)...)}
	},
}

// routeAddKind adds a route; its undo deletes it.
var routeAddKind = kind{
	do: func(e *Env, s Step) error {
		r, err := e.route(*s.Route)
		if err != nil {
			return err
		}
		if err := e.CtrNL.RouteAdd(r); err != nil {
			return fmt.Errorf("add route %s: %w", s.Route, err)
		}
		return nil
	},
	undo: func(e *Env, s Step) error {
		r, err := e.route(*s.Route)
		if errors.Is(err, errNoDev) {
			return nil // the route went with its interface
		}
		if err != nil {
			return err
		}
		return ignore(e.CtrNL.RouteDel(r), unix.ESRCH, unix.ENOENT)
	},
	cmd: func(s Step, v, _ NSView) []string {
		return []string{v.IP(append([]string{"route", "add"}, s.Route.Args()...)...)}
	},
	undoCmd: func(s Step, v NSView) []string {
		return []string{v.IP(append([]string{"route", "del"}, s.Route.Args()...)...)}
	},
}

// ruleAddKind adds a policy rule; its undo deletes it.
var ruleAddKind = kind{
	do: func(e *Env, s Step) error {
		if err := e.CtrNL.RuleAdd(rule(*s.Rule)); err != nil {
			return fmt.Errorf("add rule %s: %w", s.Rule, err)
		}
		return nil
	},
	undo: func(e *Env, s Step) error {
		return ignore(e.CtrNL.RuleDel(rule(*s.Rule)), unix.ENOENT, unix.ESRCH)
	},
	cmd:     func(s Step, v, _ NSView) []string { return []string{v.IP(s.Rule.args("add")...)} },
	undoCmd: func(s Step, v NSView) []string { return []string{v.IP(s.Rule.args("del")...)} },
}

var errNoDev = errors.New("no such device")

// route turns a route into a netlink route in the container namespace.
func (e *Env) route(rs nlutil.Route) (*netlink.Route, error) {
	l, err := e.CtrNL.LinkByName(rs.Dev)
	if isNotFound(err) {
		return nil, fmt.Errorf("route %s: %s: %w", rs, rs.Dev, errNoDev)
	}
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", rs, err)
	}
	r := &netlink.Route{
		LinkIndex: l.Attrs().Index,
		Dst:       nlutil.IPNet(rs.Dst),
		Table:     rs.Table,
		Priority:  rs.Metric,
		Protocol:  netlink.RouteProtocol(rs.Protocol),
		Scope:     netlink.Scope(rs.Scope),
		Family:    netlink.FAMILY_V4,
	}
	if rs.Dst.Addr().Is6() {
		r.Family = netlink.FAMILY_V6
	}
	if rs.Gateway.IsValid() {
		r.Gw = rs.Gateway.AsSlice()
	}
	if rs.Src.IsValid() {
		r.Src = rs.Src.AsSlice()
	}
	return r, nil
}

func rule(rs RuleSpec) *netlink.Rule {
	r := netlink.NewRule()
	r.Src = nlutil.IPNet(rs.Src)
	r.Table = rs.Table
	r.Priority = rs.Priority
	r.Family = netlink.FAMILY_V4
	if rs.Src.Addr().Is6() {
		r.Family = netlink.FAMILY_V6
	}
	return r
}

// args are the arguments of `ip rule add|del` for r (`ip -6 rule` for IPv6).
func (r RuleSpec) args(verb string) []string {
	a := []string{"rule", verb, "from", r.Src.String(), "lookup", strconv.Itoa(r.Table), "priority", strconv.Itoa(r.Priority)}
	if r.Src.Addr().Is6() {
		a = append([]string{"-6"}, a...)
	}
	return a
}
