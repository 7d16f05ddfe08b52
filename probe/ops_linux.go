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

	"github.com/netctl/netctl/internal/docker"
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
	namer := d.namer(ctx)
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
	return d.attachHostLink(d.namer(ctx), l)
}

func (d *Datapath) attachHostLink(namer *Namer, l netlink.Link) (Attachment, error) {
	mode, adopted, err := d.AttachHost(l.Attrs().Index)
	if err != nil {
		return Attachment{}, fmt.Errorf("attach to %s: %w", l.Attrs().Name, err)
	}
	p, named := namer.Name(l)
	p.Mode = string(mode)
	if err := d.describeHostPort(l, p); err != nil { // again once named, if pending
		return Attachment{}, fmt.Errorf("attach to %s: %w", l.Attrs().Name, err)
	}
	if !named {
		d.pending[l.Attrs().Index] = time.Now()
		p.Container = "" // not "host": its container is starting
	}
	if err := d.reg.addPort(regPort{Ifindex: l.Attrs().Index, Name: l.Attrs().Name, Mode: mode}); err != nil {
		return Attachment{}, err
	}
	d.portsOK = false
	return Attachment{Port: p, Adopted: adopted, Pending: !named}, nil
}

// AttachNamed attaches to the interface ifname of a namespace: the host namespace (it
// is then a host port) or a container's, where its own sense is kept. label names the
// container, nsPath opens its namespace again later (status, detach).
func (d *Datapath) AttachNamed(ctx context.Context, ns netns.NsHandle, nsPath, label, ifname string) (Attachment, error) {
	d.mu.Lock() // serve attaches again (self-healing) while scrapes read the sets
	defer d.mu.Unlock()
	cookie, err := nsutil.Cookie(ns)
	if err != nil {
		return Attachment{}, err
	}
	if cookie == d.hostCookie {
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
	mode, adopted, nsCookie, err := d.AttachIn(ns, l.Attrs().Index)
	if err != nil {
		return Attachment{}, fmt.Errorf("attach to %s@%s: %w", ifname, label, err)
	}
	// Inside the container the kernel itself marks frames for another MAC (bpf/flood.h).
	s := d.sets[nsCookie]
	if err := putRxPort(s.objs.RxPortsByIndex, s.objs.RxPorts, l.Attrs().Index, RxPort{Check: RxSelf}); err != nil {
		return Attachment{}, fmt.Errorf("attach to %s@%s: %w", ifname, label, err)
	}
	if err := d.reg.addPort(regPort{NSCookie: nsCookie, NSPath: nsPath, Ifindex: l.Attrs().Index, Name: ifname, Mode: mode}); err != nil {
		return Attachment{}, err
	}
	d.portsOK = false
	p := Port{Container: label, Interface: ifname, NSCookie: nsCookie, Ifindex: l.Attrs().Index, InContainer: true, Mode: string(mode), NetnsPath: nsPath,
		MAC: l.Attrs().HardwareAddr.String()}
	return Attachment{Port: p, Adopted: adopted}, nil
}

// ForgetHostLink cleans up after a host interface that went away: its pinned links, its
// totals and flow entries, its registry entry. Its flows in the flow cache stay in their
// slots (the programs own the slots; a write from here could race with them), and one
// that another flow later takes is written back into the flows hash, where the LRU ages
// it out. Readers leave out flows of unknown interfaces, and the kernel hands out
// ifindexes increasing, so a new interface rarely gets a gone one's.
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
	errs = append(errs, d.forgetRx(ifindex), d.reg.removePort(0, ifindex))
	delete(d.attached, setIfindex{0, ifindex})
	delete(d.pending, ifindex)
	d.portsOK = false
	return errors.Join(errs...)
}

// sweep forgets the host interfaces that are registered or have pinned links but no
// longer exist (their container went while nothing watched).
func (d *Datapath) sweep() error {
	s := d.sets[0]
	seen := map[int]bool{}
	for _, rp := range d.reg.Ports {
		if rp.NSCookie == 0 {
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

// Ports describes every registered interface that still exists, but those whose
// container is not known yet (they are counted, and described once it is).
func (d *Datapath) Ports(ctx context.Context) []Port {
	return describedPorts(registeredPorts(ctx, d.sets[0].nl, d.reg, d.opts.Docker), d.pending)
}

func registeredPorts(ctx context.Context, hostNL *netlink.Handle, reg *registry, view *docker.View) []Port {
	namer := NewNamer(ctx, hostNL, view)
	var out []Port
	for _, rp := range reg.Ports {
		if rp.NSCookie == 0 {
			l, err := hostNL.LinkByIndex(rp.Ifindex)
			if err != nil {
				continue // gone
			}
			p := namer.HostPort(l)
			p.Mode = string(rp.Mode)
			out = append(out, p)
			continue
		}
		label, ok := namer.LabelAt(rp.NSPath, rp.NSCookie)
		if !ok {
			continue // its namespace is gone
		}
		p := Port{Container: label, Interface: rp.Name, NSCookie: rp.NSCookie, Ifindex: rp.Ifindex,
			InContainer: true, Mode: string(rp.Mode), NetnsPath: rp.NSPath}
		out = append(out, p)
	}
	return out
}

// Snapshot reads the counters of this datapath's map sets.
func (d *Datapath) Snapshot(ctx context.Context) (Snapshot, error) {
	d.readMu.RLock() // Reload closes the maps it replaced only after the reads of them
	defer d.readMu.RUnlock()
	sets, ports := d.refs(ctx)
	snap, err := snapshot(sets, ports)
	if err != nil {
		return snap, err
	}
	d.mu.Lock()
	bridges, reg, nl := slices.Clone(d.bridges), slices.Clone(d.reg.Ports), d.sets[0].nl
	d.mu.Unlock()
	snap.Bridges = bridgeStatus(nl, bridges, reg)
	return snap, nil
}

// bridgeStatus counts, per bridge, the ports without netctl's programs (reg: the
// registered ports).
func bridgeStatus(nl *netlink.Handle, bridges []string, reg []regPort) []BridgeStatus {
	var out []BridgeStatus
	for _, br := range bridges {
		ports, err := BridgePorts(nl, br)
		if err != nil {
			continue // the bridge is gone: nothing to observe
		}
		st := BridgeStatus{Name: br, Ports: len(ports)}
		for _, l := range ports {
			if !slices.ContainsFunc(reg, func(p regPort) bool { return p.NSCookie == 0 && p.Ifindex == l.Attrs().Index }) {
				st.Unobserved++
			}
		}
		out = append(out, st)
	}
	return out
}

func snapshot(sets []mapRefs, ports []Port) (Snapshot, error) {
	totals, flows, entries, capacity, stats, err := readRaw(context.Background(), sets, ports)
	if err != nil {
		return Snapshot{}, err
	}
	snap := BuildSnapshot(ports, totals, flows, monoNow(), time.Now())
	snap.FlowEntries, snap.FlowCapacity = entries, capacity
	snap.InsertFailed, snap.NotParsed = stats[0], stats[1]
	if err := addFloodedCounters(sets, snap.Interfaces); err != nil {
		return snap, err
	}
	snap.Flooded, err = floodedDests(sets, ports)
	return snap, err
}
