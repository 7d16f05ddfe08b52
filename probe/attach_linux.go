//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nsutil"
)

// Legacy tc filters netctl makes carry these, so it finds (and removes) only its own.
// Legacy tc stops at the first filter that returns a verdict (a u32 match, say), so on
// ingress netctl's filter takes priority 1 to see every received packet, as the
// kernel's counters do; on egress it goes last, to count what the others let out.
const (
	tcPrioIn  = 1
	tcPrioOut = 0xc0de
	tcNameIn  = "netctl_ingress"
	tcNameOut = "netctl_egress"
	tcHandle  = 0x4e43 // "NC"
)

// Attachment is one interface with netctl's programs on it.
type Attachment struct {
	Port
	Adopted bool `json:"adopted"` // already attached by an earlier netctl; left as it was
	// Pending: who is behind the port is not known yet (a veth whose peer is not in its
	// container yet); Watch reports it once it is.
	Pending bool `json:"pending,omitempty"`
}

// AttachHost attaches both programs to an interface of the host namespace.
func (d *Datapath) AttachHost(ifindex int) (mode Mode, adopted bool, err error) {
	s := d.sets[0]
	return d.attach(s, ifindex)
}

// AttachIn attaches both programs to an interface inside another namespace, with its
// own map set; nsCookie is that namespace's cookie (0 when it is the host namespace).
func (d *Datapath) AttachIn(ns netns.NsHandle, ifindex int) (mode Mode, adopted bool, nsCookie uint64, err error) {
	cookie, err := nsutil.Cookie(ns)
	if err != nil {
		return "", false, 0, err
	}
	if cookie == d.hostCookie {
		mode, adopted, err = d.AttachHost(ifindex)
		return mode, adopted, 0, err
	}
	s, err := d.set(cookie, ns)
	if err != nil {
		return "", false, 0, err
	}
	mode, adopted, err = d.attach(s, ifindex)
	return mode, adopted, cookie, err
}

// attach puts both programs on ifindex of s's namespace, unless programs that count
// into s's maps are there already (adopted). netctl's programs that count elsewhere
// (maps since unpinned) are replaced.
func (d *Datapath) attach(s *mapSet, ifindex int) (Mode, bool, error) {
	m, adopted, err := d.attachOnce(s, ifindex)
	if err == nil {
		d.attached[setIfindex{s.cookie, ifindex}] = true
	}
	return m, adopted, err
}

func (d *Datapath) attachOnce(s *mapSet, ifindex int) (Mode, bool, error) {
	if m, ok := d.attachedMode(s, ifindex); ok {
		if d.counts(s, ifindex) {
			return m, true, nil
		}
		if err := d.unattach(s, ifindex, m); err != nil {
			return "", false, err
		}
	}
	mode := d.opts.Mode
	if mode == ModeAuto || mode == ModeTCX {
		err := d.attachTCX(s, ifindex)
		if err == nil {
			return ModeTCX, false, nil
		}
		if mode == ModeTCX || !errors.Is(err, ebpf.ErrNotSupported) {
			return "", false, err
		}
	}
	if err := d.attachTC(s, ifindex); err != nil {
		return "", false, err
	}
	return ModeTC, false, nil
}

// unattach removes netctl's programs from ifindex, attached in mode m.
func (d *Datapath) unattach(s *mapSet, ifindex int, m Mode) error {
	if m == ModeTCX {
		for _, dir := range []Direction{Ingress, Egress} {
			if l, err := link.LoadPinnedLink(linkPin(s, ifindex, dir), nil); err == nil {
				_ = l.Unpin() // the pin was its last holder: this detaches it
				l.Close()
			}
		}
		return nil
	}
	l, err := s.nl.LinkByIndex(ifindex)
	if err != nil {
		return fmt.Errorf("replace tc filters on ifindex %d: %w", ifindex, err)
	}
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		for f := ourFilter(s.nl, l, parent); f != nil; f = ourFilter(s.nl, l, parent) {
			if err := s.nl.FilterDel(f); err != nil {
				return fmt.Errorf("replace tc filter on %s: %w", l.Attrs().Name, err)
			}
		}
	}
	return nil
}

func linkPin(s *mapSet, ifindex int, dir Direction) string {
	return filepath.Join(s.dir, linksSubdir, fmt.Sprintf("%d_%s", ifindex, dir))
}

// attachedMode reports whether ifindex already carries netctl's programs, and how.
func (d *Datapath) attachedMode(s *mapSet, ifindex int) (Mode, bool) {
	if tcxPinned(s, ifindex) {
		return ModeTCX, true
	}
	if d.tcAttached(s, ifindex) {
		return ModeTC, true
	}
	return "", false
}

// tcxPinned reports whether both links of ifindex are pinned and still attached to it.
// A pinned link whose interface is gone is removed.
func tcxPinned(s *mapSet, ifindex int) bool {
	ok := true
	for _, dir := range []Direction{Ingress, Egress} {
		p := linkPin(s, ifindex, dir)
		l, err := link.LoadPinnedLink(p, nil)
		if err != nil {
			ok = false
			continue
		}
		info, err := l.Info()
		if err != nil || info.TCX() == nil || int(info.TCX().Ifindex) != ifindex {
			_ = l.Unpin() // defunct: its interface went away (or the index was reused)
			ok = false
		}
		l.Close()
	}
	return ok
}

// tcxOptions place the program for dir on ifindex: the ingress program first among the
// interface's ingress programs, so it sees every received packet as the kernel's
// receive counters do; the egress program last, so it sees what the other egress
// programs let out.
func tcxOptions(ifindex int, dir Direction, ingress, egress *ebpf.Program) (link.TCXOptions, error) {
	opts := link.TCXOptions{Interface: ifindex}
	switch dir {
	case Ingress:
		opts.Program, opts.Attach, opts.Anchor = ingress, ebpf.AttachTCXIngress, link.Head()
	case Egress:
		opts.Program, opts.Attach, opts.Anchor = egress, ebpf.AttachTCXEgress, link.Tail()
	default:
		return opts, fmt.Errorf("unknown %v", dir)
	}
	return opts, nil
}

// attachTCX attaches both programs to ifindex with TCX and pins the links.
func (d *Datapath) attachTCX(s *mapSet, ifindex int) error {
	var made []link.Link
	undo := func() {
		for _, l := range made {
			_ = l.Unpin()
			l.Close()
		}
	}
	for _, dir := range []Direction{Ingress, Egress} {
		opts, err := tcxOptions(ifindex, dir, s.objs.NetctlIngress, s.objs.NetctlEgress)
		if err != nil {
			undo()
			return fmt.Errorf("attach tcx on ifindex %d: %w", ifindex, err)
		}
		var l link.Link
		err = nsutil.Do(s.ns, func() error {
			var err error
			l, err = link.AttachTCX(opts)
			return err
		})
		if err != nil {
			undo()
			return fmt.Errorf("attach tcx %s on ifindex %d: %w", dir, ifindex, err)
		}
		made = append(made, l)
		p := linkPin(s, ifindex, dir)
		_ = os.Remove(p) // a stale pin of a reused index
		if err := l.Pin(p); err != nil {
			undo()
			return fmt.Errorf("pin tcx link %s: %w", p, err)
		}
	}
	for _, l := range made {
		l.Close() // the pin keeps it attached
	}
	return nil
}

// tcAttached reports whether netctl's filters are on both clsact hooks of ifindex.
func (d *Datapath) tcAttached(s *mapSet, ifindex int) bool {
	l, err := s.nl.LinkByIndex(ifindex)
	if err != nil {
		return false
	}
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		if ourFilter(s.nl, l, parent) == nil {
			return false
		}
	}
	return true
}

func ourFilter(nl *netlink.Handle, l netlink.Link, parent uint32) *netlink.BpfFilter {
	filters, err := nl.FilterList(l, parent)
	if err != nil {
		return nil
	}
	for _, f := range filters {
		if bf, ok := f.(*netlink.BpfFilter); ok && bf.Handle == tcHandle && (bf.Name == tcNameIn || bf.Name == tcNameOut) {
			return bf
		}
	}
	return nil
}

func (d *Datapath) attachTC(s *mapSet, ifindex int) error {
	l, err := s.nl.LinkByIndex(ifindex)
	if err != nil {
		return fmt.Errorf("attach tc on ifindex %d: %w", ifindex, err)
	}
	created := false
	qdiscs, err := s.nl.QdiscList(l)
	if err != nil {
		return fmt.Errorf("attach tc on %s: list qdiscs: %w", l.Attrs().Name, err)
	}
	has := false
	for _, q := range qdiscs {
		if q.Type() == "clsact" {
			has = true
		}
	}
	if !has {
		q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: ifindex,
			Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"}
		if err := s.nl.QdiscAdd(q); err != nil {
			return fmt.Errorf("attach tc on %s: add clsact qdisc: %w", l.Attrs().Name, err)
		}
		created = true
	}
	var added []*netlink.BpfFilter
	fail := func(err error) error {
		for _, f := range added {
			_ = s.nl.FilterDel(f)
		}
		if created {
			_ = s.nl.QdiscDel(&netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: ifindex,
				Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"})
		}
		return err
	}
	for _, h := range []struct {
		parent uint32
		prio   uint16
		prog   *ebpf.Program
		name   string
	}{{netlink.HANDLE_MIN_INGRESS, tcPrioIn, s.objs.NetctlIngress, tcNameIn}, {netlink.HANDLE_MIN_EGRESS, tcPrioOut, s.objs.NetctlEgress, tcNameOut}} {
		f := &netlink.BpfFilter{
			FilterAttrs: netlink.FilterAttrs{LinkIndex: ifindex, Parent: h.parent, Handle: tcHandle,
				Protocol: unix.ETH_P_ALL, Priority: h.prio},
			Fd: h.prog.FD(), Name: h.name, DirectAction: true,
		}
		if err := s.nl.FilterAdd(f); err != nil {
			return fail(fmt.Errorf("attach tc %s on %s: %w", h.name, l.Attrs().Name, err))
		}
		added = append(added, f)
	}
	if created {
		if err := d.reg.addQdisc(s.cookie, ifindex); err != nil {
			return fail(err)
		}
	}
	return nil
}
