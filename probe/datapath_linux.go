//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nsutil"
	"github.com/netctl/netctl/internal/state"
)

// Mode is how programs are attached.
type Mode string

// Attach modes: TCX (Linux 6.6), legacy tc clsact with a direct-action bpf filter, or
// TCX falling back to tc where the kernel has no TCX.
const (
	ModeAuto Mode = "auto"
	ModeTCX  Mode = "tcx"
	ModeTC   Mode = "tc"
)

// ParseMode checks an --attach-mode value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeAuto, ModeTCX, ModeTC:
		return m, nil
	}
	return "", fmt.Errorf("invalid attach mode %q: want auto, tcx or tc", s)
}

// Legacy tc filters netctl makes carry these, so it finds (and removes) only its own.
// Legacy tc stops at the first filter that returns a verdict (a u32 match, say), so on
// ingress netctl's filter takes priority 1 to see every received packet, as the
// kernel's counters do; on egress it goes last, to count what the others let out.
const (
	tcPrioIn    = 1
	tcPrioOut   = 0xc0de
	tcNameIn    = "netctl_ingress"
	tcNameOut   = "netctl_egress"
	tcHandle    = 0x4e43 // "NC"
	linksSubdir = "links"
	mapsSubdir  = "maps"
)

// Options tune Open and say where the datapath keeps its files; ReadPinned, HasPins
// and Detach use only the roots.
type Options struct {
	Mode        Mode   // default ModeAuto
	FlowEntries uint32 // size of the flow table of a new map set (0: the object's default)
	// BPFDir is the pin root: one folder per host namespace, named by the namespace's
	// inode, mode 0700. "" means state.BPFDir().
	BPFDir string
	// StateDir is the state root: the attach registry of each host namespace is
	// StateDir/attach/<inode>.json. "" means state.Dir().
	StateDir string
}

// bpfDir is the pin root.
func (o Options) bpfDir() string { return cmp.Or(o.BPFDir, state.BPFDir()) }

// pinDir is the folder of the host namespace whose inode is hostIno.
func (o Options) pinDir(hostIno uint64) string {
	return filepath.Join(o.bpfDir(), strconv.FormatUint(hostIno, 10))
}

// Datapath is netctl's programs and pinned maps for one host namespace: one map set for
// the host namespace, and one per other namespace where an interface was attached inside
// (interface indexes are only unique within a namespace).
type Datapath struct {
	host    netns.NsHandle
	hostIno uint64
	dir     string
	opts    Options
	sets    map[uint64]*mapSet // key 0: the host namespace
	reg     *registry
	mu      sync.Mutex // the watcher and snapshots run concurrently (serve)
	ports   []Port     // who is behind each registered interface (valid while portsOK)
	portsOK bool
	bridges []string // bridges whose ports this datapath attaches to
}

// mapSet is the loaded programs and pinned maps of one namespace.
type mapSet struct {
	ns   netns.NsHandle
	ino  uint64 // 0 for the host namespace
	dir  string
	objs productObjects
	nl   *netlink.Handle
}

// productObjects are the programs the product attaches and the maps; LoadAndAssign
// loads only these (the baseline and benchmark programs stay in the ELF).
type productObjects struct {
	NetctlIngress *ebpf.Program `ebpf:"netctl_ingress"`
	NetctlEgress  *ebpf.Program `ebpf:"netctl_egress"`
	netctlMaps
}

// Close releases the programs and maps held by this process (pins stay).
func (o *productObjects) Close() error {
	return errors.Join(o.NetctlIngress.Close(), o.NetctlEgress.Close(), o.netctlMaps.Close())
}

// Open loads the programs for the host namespace host, adopting the maps pinned by an
// earlier netctl (so counters continue) or creating and pinning new ones. It attaches
// nothing. host stays owned by the caller.
func Open(host netns.NsHandle, opts Options) (*Datapath, error) {
	if opts.Mode == "" {
		opts.Mode = ModeAuto
	}
	ino, err := nsutil.Inode(host)
	if err != nil {
		return nil, err
	}
	d := &Datapath{host: host, hostIno: ino, dir: opts.pinDir(ino), opts: opts, sets: map[uint64]*mapSet{}}
	if d.reg, err = loadRegistry(opts.registryPath(ino)); err != nil {
		return nil, err
	}
	if _, err := d.set(0, host); err != nil {
		return nil, err
	}
	return d, nil
}

// Options returns the options the datapath was opened with: its roots for ReadPinned,
// HasPins and Detach.
func (d *Datapath) Options() Options { return d.opts }

// Close releases this process's handles. Pinned maps, pinned links and tc filters stay:
// the counters go on without netctl running.
func (d *Datapath) Close() error {
	var errs []error
	for ino, s := range d.sets {
		errs = append(errs, s.objs.Close())
		s.nl.Close()
		if ino != 0 {
			s.ns.Close()
		}
	}
	return errors.Join(errs...)
}

// set returns the map set of a namespace, loading it (and adopting its pins) if needed.
// ns is duplicated, so the caller keeps its handle.
func (d *Datapath) set(ino uint64, ns netns.NsHandle) (*mapSet, error) {
	if s, ok := d.sets[ino]; ok {
		return s, nil
	}
	dir := d.dir
	if ino != 0 {
		dir = filepath.Join(d.dir, "ns-"+strconv.FormatUint(ino, 10))
		fd, err := unix.FcntlInt(uintptr(ns), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("dup namespace handle: %w", err)
		}
		ns = netns.NsHandle(fd)
	}
	s := &mapSet{ns: ns, ino: ino, dir: dir}
	if err := loadSet(s, d.opts.FlowEntries); err != nil {
		if ino != 0 {
			ns.Close()
		}
		return nil, err
	}
	nl, err := nsutil.Handle(ns)
	if err != nil {
		s.objs.Close()
		if ino != 0 {
			ns.Close()
		}
		return nil, fmt.Errorf("netlink handle: %w", err)
	}
	s.nl = nl
	d.sets[ino] = s
	return s, nil
}

// loadSet loads the product's programs with maps pinned by name under s.dir/maps.
func loadSet(s *mapSet, flowEntries uint32) error {
	if err := os.MkdirAll(filepath.Join(s.dir, mapsSubdir), 0o700); err != nil {
		return fmt.Errorf("create pin folder (is bpffs mounted at /sys/fs/bpf?): %w", err)
	}
	if err := os.MkdirAll(filepath.Join(s.dir, linksSubdir), 0o700); err != nil {
		return fmt.Errorf("create pin folder: %w", err)
	}
	spec, err := loadNetctl()
	if err != nil {
		return fmt.Errorf("load program spec: %w", err)
	}
	for _, m := range spec.Maps {
		m.Pinning = ebpf.PinByName
	}
	if flowEntries > 0 {
		spec.Maps[netctlMapFlows].MaxEntries = flowEntries
	}
	var objs productObjects
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: filepath.Join(s.dir, mapsSubdir)}}
	if err := spec.LoadAndAssign(&objs, opts); err != nil {
		if errors.Is(err, ebpf.ErrMapIncompatible) {
			return fmt.Errorf("load programs: the maps pinned in %s do not match this netctl (another version, or another --flow-entries); run 'netctl detach' first: %w", s.dir, err)
		}
		return fmt.Errorf("load programs: %w", withVerifierLog(err))
	}
	s.objs = objs
	return nil
}

// Attachment is one interface with netctl's programs on it.
type Attachment struct {
	Port
	Adopted bool `json:"adopted"` // already attached by an earlier netctl; left as it was
}

// AttachHost attaches both programs to an interface of the host namespace.
func (d *Datapath) AttachHost(ifindex int) (mode Mode, adopted bool, err error) {
	s := d.sets[0]
	return d.attach(s, ifindex)
}

// AttachIn attaches both programs to an interface inside another namespace, with its
// own map set.
func (d *Datapath) AttachIn(ns netns.NsHandle, ifindex int) (mode Mode, adopted bool, nsIno uint64, err error) {
	ino, err := nsutil.Inode(ns)
	if err != nil {
		return "", false, 0, err
	}
	if ino == d.hostIno {
		mode, adopted, err = d.AttachHost(ifindex)
		return mode, adopted, 0, err
	}
	s, err := d.set(ino, ns)
	if err != nil {
		return "", false, 0, err
	}
	mode, adopted, err = d.attach(s, ifindex)
	return mode, adopted, ino, err
}

// attach puts both programs on ifindex of s's namespace, unless they are there already.
func (d *Datapath) attach(s *mapSet, ifindex int) (Mode, bool, error) {
	if m, ok := d.attachedMode(s, ifindex); ok {
		return m, true, nil
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

func (d *Datapath) attachTCX(s *mapSet, ifindex int) error {
	var made []link.Link
	undo := func() {
		for _, l := range made {
			_ = l.Unpin()
			l.Close()
		}
	}
	for _, dir := range []Direction{Ingress, Egress} {
		opts := link.TCXOptions{Interface: ifindex}
		if dir == Ingress {
			// First among ingress programs: it sees every received packet, as the
			// kernel's receive counters do.
			opts.Program, opts.Attach, opts.Anchor = s.objs.NetctlIngress, ebpf.AttachTCXIngress, link.Head()
		} else {
			// Last among egress programs: it sees what the others let out.
			opts.Program, opts.Attach, opts.Anchor = s.objs.NetctlEgress, ebpf.AttachTCXEgress, link.Tail()
		}
		var l link.Link
		err := nsutil.Do(s.ns, func() error {
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
		if err := d.reg.addQdisc(s.ino, ifindex); err != nil {
			return fail(err)
		}
	}
	return nil
}
