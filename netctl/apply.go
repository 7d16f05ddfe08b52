package netctl

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nlutil"
	"github.com/netctl/netctl/internal/nsutil"
)

// StepError says which step of a plan failed, and what rolling back the earlier ones
// left, if anything.
type StepError struct {
	Index    int // 0-based
	Step     Step
	Err      error
	Rollback error // nil when every earlier step was undone
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("step %d (%s): %v", e.Index+1, e.Step.Kind, e.Err)
	if e.Rollback != nil {
		return msg + "; rollback incomplete: " + e.Rollback.Error()
	}
	return msg + "; every earlier step was undone"
}

func (e *StepError) Unwrap() error { return e.Err }

// errInjected is the failure a test injects before a chosen step.
var errInjected = errors.New("injected failure (test)")

// Apply runs the plan's steps in order. When step k fails, steps k-1…1 are undone in
// reverse (each step's own action is all-or-nothing) and a *StepError is returned.
// failBefore ≥ 0 injects a failure before that step, for tests.
func (e *Env) Apply(p Plan, failBefore int) error {
	for i, s := range p.Steps {
		err := errInjected
		if i != failBefore {
			err = e.do(s)
		}
		if err != nil {
			return &StepError{Index: i, Step: s, Err: err, Rollback: e.Undo(p.Steps[:i])}
		}
	}
	return nil
}

// Undo undoes steps in reverse order, leaving out those that deleting the veth undoes
// by itself (see UndoSteps). Undoing what is already gone is success, so Undo is
// idempotent. It goes on after an error and returns them all.
func (e *Env) Undo(steps []Step) error {
	var errs []error
	for _, i := range UndoSteps(steps) {
		if steps[i].Kind == StepVeth && len(errs) > 0 {
			// Keep the veth while something else could not be restored, so that the
			// record stays live and nic del can be run again.
			errs = append(errs, fmt.Errorf("undo step %d (%s): kept until the errors above are fixed", i+1, steps[i].Kind))
			continue
		}
		if err := e.undo(steps[i]); err != nil {
			errs = append(errs, fmt.Errorf("undo step %d (%s): %w", i+1, steps[i].Kind, err))
		}
	}
	return errors.Join(errs...)
}

// UndoSteps returns the indexes of the steps to undo, last first. When the veth is among
// them, the steps that only changed its two ends (addresses, up, bridge port, the new
// interface's own sysctls) are left out: deleting the veth takes them with it, and each
// would cost the kernel a synchronize_net.
func UndoSteps(steps []Step) []int {
	var veth *Step
	for i := range steps {
		if steps[i].Kind == StepVeth {
			veth = &steps[i]
		}
	}
	var out []int
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		if veth != nil && onVeth(s, veth) {
			continue
		}
		out = append(out, i)
	}
	return out
}

// onVeth reports whether s changed nothing but the veth's own ends.
func onVeth(s Step, veth *Step) bool {
	switch s.Kind {
	case StepAddr, StepLinkUp:
		return s.Link == veth.Peer
	case StepHostPort:
		return s.Link == veth.Link
	case StepSysctl:
		return strings.HasPrefix(s.Key, "net.ipv4.conf."+veth.Peer+".")
	}
	return false
}

func (e *Env) do(s Step) error {
	switch s.Kind {
	case StepVeth:
		v := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: s.Link, MTU: s.MTU},
			PeerName:      s.Peer,
			PeerMTU:       uint32(s.MTU),
			PeerNamespace: netlink.NsFd(e.Ctr.NS),
		}
		if s.MAC != "" {
			mac, err := net.ParseMAC(s.MAC)
			if err != nil {
				return err
			}
			v.PeerHardwareAddr = mac
		}
		if err := e.HostNL.LinkAdd(v); err != nil {
			return fmt.Errorf("create veth %s (peer %s in %s): %w", s.Link, s.Peer, e.Ctr.Label, err)
		}
		// The kernel ignores an alias in the create request. Should netctl die before
		// this, the record (written first) and the veth's peer still identify it.
		if err := e.HostNL.LinkSetAlias(v, s.Alias); err != nil {
			_ = e.HostNL.LinkDel(v)
			return fmt.Errorf("set alias of %s: %w", s.Link, err)
		}
		return nil
	case StepAddr:
		l, err := e.CtrNL.LinkByName(s.Link)
		if err != nil {
			return fmt.Errorf("find %s in %s: %w", s.Link, e.Ctr.Label, err)
		}
		a := &netlink.Addr{IPNet: nlutil.IPNet(s.Address)}
		if s.Address.Addr().Is4() && s.Address.Bits() < 31 {
			a.Broadcast = lastAddr(s.Address).AsSlice()
		}
		if err := e.CtrNL.AddrAdd(l, a); err != nil {
			if s.Address.Addr().Is6() && errors.Is(err, unix.EACCES) {
				err = fmt.Errorf("%w (IPv6 is disabled on %s in the container)", err, s.Link)
			}
			return fmt.Errorf("add %s to %s: %w", s.Address, s.Link, err)
		}
		return nil
	case StepSysctl:
		return nsutil.Do(e.Ctr.NS, func() error {
			if err := os.WriteFile(sysctlPath(s.Key), []byte(s.Value), 0o644); err != nil {
				return fmt.Errorf("sysctl %s=%s: %w", s.Key, s.Value, err)
			}
			return nil
		})
	case StepLinkUp:
		l, err := e.CtrNL.LinkByName(s.Link)
		if err != nil {
			return fmt.Errorf("find %s in %s: %w", s.Link, e.Ctr.Label, err)
		}
		if err := e.CtrNL.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up: %w", s.Link, err)
		}
		return nil
	case StepHostPort:
		l, err := e.HostNL.LinkByName(s.Link)
		if err != nil {
			return fmt.Errorf("find %s: %w", s.Link, err)
		}
		br, err := e.HostNL.LinkByName(s.Bridge)
		if err != nil {
			return fmt.Errorf("find bridge %s: %w", s.Bridge, err)
		}
		if err := e.HostNL.LinkSetMaster(l, br); err != nil {
			return fmt.Errorf("plug %s into %s: %w", s.Link, s.Bridge, err)
		}
		if err := e.HostNL.LinkSetUp(l); err != nil {
			_ = e.HostNL.LinkSetNoMaster(l)
			return fmt.Errorf("set %s up: %w", s.Link, err)
		}
		return nil
	case StepWaitDAD:
		return e.waitDAD(s.Link, 5*time.Second)
	case StepRouteDel:
		r, err := e.route(*s.Route)
		if err != nil {
			return err
		}
		if err := e.CtrNL.RouteDel(r); err != nil {
			return fmt.Errorf("delete route %s: %w", s.Route, err)
		}
		return nil
	case StepRouteAdd:
		r, err := e.route(*s.Route)
		if err != nil {
			return err
		}
		if err := e.CtrNL.RouteAdd(r); err != nil {
			return fmt.Errorf("add route %s: %w", s.Route, err)
		}
		return nil
	case StepRuleAdd:
		if err := e.CtrNL.RuleAdd(rule(*s.Rule)); err != nil {
			return fmt.Errorf("add rule %s: %w", s.Rule, err)
		}
		return nil
	}
	return fmt.Errorf("unknown step kind %q", s.Kind)
}

func (e *Env) undo(s Step) error {
	switch s.Kind {
	case StepVeth:
		l, err := e.HostNL.LinkByName(s.Link)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if !e.isOurVeth(l, s.Alias, s.Peer) {
			return fmt.Errorf("%s is not the veth netctl made (alias %q): left alone", s.Link, l.Attrs().Alias)
		}
		return ignore(e.HostNL.LinkDel(l), unix.ENODEV)
	case StepAddr:
		l, err := e.CtrNL.LinkByName(s.Link)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return ignore(e.CtrNL.AddrDel(l, &netlink.Addr{IPNet: nlutil.IPNet(s.Address)}), unix.EADDRNOTAVAIL, unix.ENODEV)
	case StepSysctl:
		return nsutil.Do(e.Ctr.NS, func() error {
			err := os.WriteFile(sysctlPath(s.Key), []byte(s.Old), 0o644)
			if errors.Is(err, os.ErrNotExist) {
				return nil // the interface went with the veth
			}
			return err
		})
	case StepLinkUp:
		l, err := e.CtrNL.LinkByName(s.Link)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return ignore(e.CtrNL.LinkSetDown(l), unix.ENODEV)
	case StepHostPort:
		l, err := e.HostNL.LinkByName(s.Link)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return ignore(e.HostNL.LinkSetNoMaster(l), unix.ENODEV)
	case StepWaitDAD:
		return nil
	case StepRouteDel:
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
	case StepRouteAdd:
		r, err := e.route(*s.Route)
		if errors.Is(err, errNoDev) {
			return nil // the route went with its interface
		}
		if err != nil {
			return err
		}
		return ignore(e.CtrNL.RouteDel(r), unix.ESRCH, unix.ENOENT)
	case StepRuleAdd:
		return ignore(e.CtrNL.RuleDel(rule(*s.Rule)), unix.ENOENT, unix.ESRCH)
	}
	return fmt.Errorf("unknown step kind %q", s.Kind)
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

// waitDAD waits until no IPv6 address of link is tentative; a failed DAD means another
// host on the bridge already uses the address.
func (e *Env) waitDAD(link string, timeout time.Duration) error {
	l, err := e.CtrNL.LinkByName(link)
	if err != nil {
		return fmt.Errorf("find %s: %w", link, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		addrs, err := nlutil.Dump(func() ([]netlink.Addr, error) { return e.CtrNL.AddrList(l, netlink.FAMILY_V6) })
		if err != nil {
			return fmt.Errorf("list IPv6 addresses of %s: %w", link, err)
		}
		tentative := false
		for _, a := range addrs {
			if a.Flags&unix.IFA_F_DADFAILED != 0 {
				return fmt.Errorf("address %s is already used by another host on the link (IPv6 DAD failed)", a.IPNet)
			}
			if a.Flags&unix.IFA_F_TENTATIVE != 0 {
				tentative = true
			}
		}
		if !tentative {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("IPv6 addresses of %s still tentative after %s (is the link up with carrier?)", link, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ignore treats the given errnos (the thing is already gone or already there) as success.
func ignore(err error, errnos ...unix.Errno) error {
	for _, n := range errnos {
		if errors.Is(err, n) {
			return nil
		}
	}
	return err
}
