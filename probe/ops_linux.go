//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/nsutil"
)

// AttachBridge attaches to every port of bridge in the host namespace and records them.
// Interfaces that went away while no watcher ran are forgotten first.
func (d *Datapath) AttachBridge(ctx context.Context, bridge string) ([]Attachment, error) {
	d.mu.Lock() // serve calls it again (catching up after a watch failure) while scrapes run
	defer d.mu.Unlock()
	hs := d.sets[0]
	if err := d.sweep(); err != nil {
		return nil, err
	}
	if !slices.Contains(d.bridges, bridge) {
		d.bridges = append(d.bridges, bridge)
	}
	ports, err := BridgePorts(hs.nl, bridge)
	if err != nil {
		return nil, err
	}
	namer := NewNamer(ctx, hs.nl)
	out := make([]Attachment, 0, len(ports))
	for _, l := range ports {
		a, err := d.attachHostLink(namer, l)
		if err != nil {
			return out, err
		}
		out = append(out, a)
	}
	return out, nil
}

// AttachHostLink attaches to one interface of the host namespace (a new bridge port).
func (d *Datapath) AttachHostLink(ctx context.Context, l netlink.Link) (Attachment, error) {
	return d.attachHostLink(NewNamer(ctx, d.sets[0].nl), l)
}

func (d *Datapath) attachHostLink(namer *Namer, l netlink.Link) (Attachment, error) {
	mode, adopted, err := d.AttachHost(l.Attrs().Index)
	if err != nil {
		return Attachment{}, fmt.Errorf("attach to %s: %w", l.Attrs().Name, err)
	}
	p := namer.HostPort(l)
	p.Mode = string(mode)
	if err := d.reg.addPort(regPort{Ifindex: l.Attrs().Index, Name: l.Attrs().Name, Mode: mode}); err != nil {
		return Attachment{}, err
	}
	d.portsOK = false
	return Attachment{Port: p, Adopted: adopted}, nil
}

// AttachNamed attaches to the interface ifname of a namespace: the host namespace (it
// is then a host port) or a container's, where its own sense is kept. label names the
// container, nsPath opens its namespace again later (status, detach).
func (d *Datapath) AttachNamed(ctx context.Context, ns netns.NsHandle, nsPath, label, ifname string) (Attachment, error) {
	ino, err := nsutil.Inode(ns)
	if err != nil {
		return Attachment{}, err
	}
	if ino == d.hostIno {
		l, err := d.sets[0].nl.LinkByName(ifname)
		if err != nil {
			return Attachment{}, fmt.Errorf("interface %s not found in the host namespace", ifname)
		}
		return d.AttachHostLink(ctx, l)
	}
	nl, err := nsutil.Handle(ns)
	if err != nil {
		return Attachment{}, fmt.Errorf("netlink in %s: %w", label, err)
	}
	defer nl.Close()
	l, err := nl.LinkByName(ifname)
	if err != nil {
		return Attachment{}, fmt.Errorf("interface %s not found in %s", ifname, label)
	}
	mode, adopted, nsIno, err := d.AttachIn(ns, l.Attrs().Index)
	if err != nil {
		return Attachment{}, fmt.Errorf("attach to %s@%s: %w", ifname, label, err)
	}
	if err := d.reg.addPort(regPort{NSInode: nsIno, NSPath: nsPath, Ifindex: l.Attrs().Index, Name: ifname, Mode: mode}); err != nil {
		return Attachment{}, err
	}
	d.portsOK = false
	p := Port{Container: label, Interface: ifname, NSInode: nsIno, Ifindex: l.Attrs().Index, InContainer: true, Mode: string(mode), NetnsPath: nsPath}
	return Attachment{Port: p, Adopted: adopted}, nil
}

// ForgetHostLink cleans up after a host interface that went away: its pinned links, its
// totals and flow entries, its registry entry.
func (d *Datapath) ForgetHostLink(ifindex int) error {
	s := d.sets[0]
	for _, dir := range []Direction{Ingress, Egress} {
		if l, err := link.LoadPinnedLink(linkPin(s, ifindex, dir), nil); err == nil {
			_ = l.Unpin()
			l.Close()
		}
	}
	var errs []error
	if ifindex < TotalsArrayIfindexes {
		ncpu, err := ebpf.PossibleCPU()
		if err != nil {
			return err
		}
		zero := make([]netctlNcTotalsValue, ncpu)
		for _, dir := range []Direction{Ingress, Egress} {
			if err := s.objs.TotalsByIndex.Put(uint32(ifindex*2+int(dir)), zero); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, dir := range []Direction{Ingress, Egress} {
		k := netctlNcTotalsKey{Ifindex: uint32(ifindex), Direction: netctlNcDirection(dir)}
		if err := s.objs.Totals.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			errs = append(errs, err)
		}
	}
	var key netctlNcFlowKey
	var vals []netctlNcFlowValue
	var stale []netctlNcFlowKey
	it := s.objs.Flows.Iterate()
	for it.Next(&key, &vals) {
		if int(key.Ifindex) == ifindex {
			stale = append(stale, key)
		}
	}
	for i := range stale {
		if err := s.objs.Flows.Delete(&stale[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, d.reg.removePort(0, ifindex))
	d.portsOK = false
	return errors.Join(errs...)
}

// sweep forgets the host interfaces that are registered or have pinned links but no
// longer exist (their container went while nothing watched).
func (d *Datapath) sweep() error {
	s := d.sets[0]
	seen := map[int]bool{}
	for _, rp := range d.reg.Ports {
		if rp.NSInode == 0 {
			seen[rp.Ifindex] = true
		}
	}
	ents, _ := os.ReadDir(filepath.Join(s.dir, linksSubdir))
	for _, e := range ents {
		if i := strings.IndexByte(e.Name(), '_'); i > 0 {
			if n, err := strconv.Atoi(e.Name()[:i]); err == nil {
				seen[n] = true
			}
		}
	}
	var errs []error
	for ifindex := range seen {
		if _, err := s.nl.LinkByIndex(ifindex); err != nil {
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				errs = append(errs, d.ForgetHostLink(ifindex))
			}
		}
	}
	return errors.Join(errs...)
}

// Ports describes every registered interface that still exists.
func (d *Datapath) Ports(ctx context.Context) []Port {
	return registeredPorts(ctx, d.sets[0].nl, d.reg)
}

func registeredPorts(ctx context.Context, hostNL *netlink.Handle, reg *registry) []Port {
	namer := NewNamer(ctx, hostNL)
	var out []Port
	for _, rp := range reg.Ports {
		if rp.NSInode == 0 {
			l, err := hostNL.LinkByIndex(rp.Ifindex)
			if err != nil {
				continue // gone
			}
			p := namer.HostPort(l)
			p.Mode = string(rp.Mode)
			out = append(out, p)
			continue
		}
		p := Port{Container: namer.Label(rp.NSInode), Interface: rp.Name, NSInode: rp.NSInode, Ifindex: rp.Ifindex,
			InContainer: true, Mode: string(rp.Mode), NetnsPath: rp.NSPath}
		out = append(out, p)
	}
	return out
}

// Snapshot reads the counters of this datapath's map sets.
func (d *Datapath) Snapshot(ctx context.Context) (Snapshot, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var sets []mapRefs
	for ino, s := range d.sets {
		sets = append(sets, mapRefs{ino: ino, totalsIdx: s.objs.TotalsByIndex, totals: s.objs.Totals, flows: s.objs.Flows, stats: s.objs.Stats})
	}
	before := slices.Clone(d.reg.Ports)
	if err := d.reg.reload(); err == nil && !slices.Equal(before, d.reg.Ports) {
		d.portsOK = false // another netctl (attach --iface) changed the registry
	}
	if !d.portsOK { // resolved again only after an attach or a port gone
		d.ports, d.portsOK = d.Ports(ctx), true
	}
	snap, err := snapshot(sets, d.ports)
	if err != nil {
		return snap, err
	}
	snap.Bridges = d.bridgeStatus()
	return snap, nil
}

// bridgeStatus counts, per watched bridge, the ports without netctl's programs.
func (d *Datapath) bridgeStatus() []BridgeStatus {
	var out []BridgeStatus
	for _, br := range d.bridges {
		ports, err := BridgePorts(d.sets[0].nl, br)
		if err != nil {
			continue // the bridge is gone: nothing to observe
		}
		st := BridgeStatus{Name: br, Ports: len(ports)}
		for _, l := range ports {
			if !slices.ContainsFunc(d.reg.Ports, func(p regPort) bool { return p.NSInode == 0 && p.Ifindex == l.Attrs().Index }) {
				st.Unobserved++
			}
		}
		out = append(out, st)
	}
	return out
}

func snapshot(sets []mapRefs, ports []Port) (Snapshot, error) {
	totals, flows, entries, capacity, stats, err := readRaw(sets)
	if err != nil {
		return Snapshot{}, err
	}
	snap := BuildSnapshot(ports, totals, flows, monoNow(), time.Now())
	snap.FlowEntries, snap.FlowCapacity = entries, capacity
	snap.InsertFailed, snap.NotParsed = stats[0], stats[1]
	return snap, nil
}

// ReadPinned reads the counters that netctl pinned for host namespace host under
// opts' roots, without loading or attaching anything (netctl status, netctl flows).
func ReadPinned(ctx context.Context, host netns.NsHandle, opts Options) (Snapshot, error) {
	ino, err := nsutil.Inode(host)
	if err != nil {
		return Snapshot{}, err
	}
	sets, err := pinnedSets(opts.pinDir(ino))
	if err != nil {
		return Snapshot{}, err
	}
	defer func() {
		for _, s := range sets {
			s.close()
		}
	}()
	reg, err := loadRegistry(opts.registryPath(ino))
	if err != nil {
		return Snapshot{}, err
	}
	nl, err := nsutil.Handle(host)
	if err != nil {
		return Snapshot{}, err
	}
	defer nl.Close()
	return snapshot(sets, registeredPorts(ctx, nl, reg))
}

// DetachReport says what Detach removed.
type DetachReport struct {
	Links   int `json:"links"`   // TCX links
	Filters int `json:"filters"` // tc filters
	Qdiscs  int `json:"qdiscs"`  // clsact qdiscs netctl had created
	Pins    int `json:"pins"`    // pinned maps and folders
}

// HasPins reports whether netctl pinned anything for host namespace host under opts'
// pin root: counters an earlier attach or serve left, which a new one adopts.
func HasPins(host netns.NsHandle, opts Options) (bool, error) {
	ino, err := nsutil.Inode(host)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(opts.pinDir(ino))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look for pins: %w", err)
	}
	return true, nil
}

// Detach removes every program, link, filter, qdisc and pin netctl made for host
// namespace host under opts' roots, and its attach registry, and nothing else. Nothing
// to remove is success.
func Detach(host netns.NsHandle, opts Options) (DetachReport, error) {
	var rep DetachReport
	ino, err := nsutil.Inode(host)
	if err != nil {
		return rep, err
	}
	reg, err := loadRegistry(opts.registryPath(ino))
	if err != nil {
		return rep, err
	}
	var errs []error
	root := opts.pinDir(ino)
	// TCX links: unpinning the last reference detaches.
	_ = filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || filepath.Base(filepath.Dir(p)) != linksSubdir {
			return nil
		}
		l, lerr := link.LoadPinnedLink(p, nil)
		if lerr != nil {
			errs = append(errs, fmt.Errorf("open pinned link %s: %w", p, lerr))
			return nil
		}
		if uerr := l.Unpin(); uerr != nil {
			errs = append(errs, fmt.Errorf("unpin %s: %w", p, uerr))
		} else {
			rep.Links++
		}
		l.Close()
		return nil
	})
	// tc filters and the qdiscs netctl created.
	for _, rp := range reg.Ports {
		if rp.Mode != ModeTC {
			continue
		}
		f, q, err := detachTC(host, rp, reg.createdQdisc(rp.NSInode, rp.Ifindex))
		rep.Filters += f
		rep.Qdiscs += q
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Pinned maps and the folders.
	_ = filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rep.Pins++
		}
		return nil
	})
	if err := os.RemoveAll(root); err != nil {
		errs = append(errs, fmt.Errorf("remove pins: %w", err))
	}
	_ = os.Remove(opts.bpfDir()) // only when no other host namespace has pins
	if err := reg.remove(); err != nil {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

func detachTC(host netns.NsHandle, rp regPort, createdQdisc bool) (filters, qdiscs int, err error) {
	ns := host
	if rp.NSInode != 0 {
		h, err := netns.GetFromPath(rp.NSPath)
		if err != nil {
			return 0, 0, nil // the namespace is gone, and its filters with it
		}
		defer h.Close()
		if ino, _ := nsutil.Inode(h); ino != rp.NSInode {
			return 0, 0, nil
		}
		ns = h
	}
	nl, err := nsutil.Handle(ns)
	if err != nil {
		return 0, 0, err
	}
	defer nl.Close()
	l, err := nl.LinkByIndex(rp.Ifindex)
	if err != nil {
		return 0, 0, nil // the interface is gone, and its filters with it
	}
	others := 0
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		for f := ourFilter(nl, l, parent); f != nil; f = ourFilter(nl, l, parent) {
			if err := nl.FilterDel(f); err != nil {
				return filters, 0, fmt.Errorf("delete tc filter on %s: %w", l.Attrs().Name, err)
			}
			filters++
		}
		if fl, err := nl.FilterList(l, parent); err == nil {
			others += len(fl)
		}
	}
	if createdQdisc && others == 0 {
		q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: rp.Ifindex,
			Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"}
		if err := nl.QdiscDel(q); err != nil {
			return filters, 0, fmt.Errorf("delete clsact qdisc on %s: %w", l.Attrs().Name, err)
		}
		qdiscs++
	}
	return filters, qdiscs, nil
}
