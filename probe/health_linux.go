//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

// Whether a datapath still counts: its pins are its maps, and the interfaces it
// attached to carry programs that count into them. Another process can undo either
// (`netctl detach`, a second attach after it, a tool that replaces tc programs); Check
// finds it, Reload follows the pins again.

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
)

// ErrNotCounting is what Check's errors match: the datapath reads maps that nothing
// counts into any more, or an interface it attached to lost its programs.
var ErrNotCounting = errors.New("not counting")

// notCounting wraps why with ErrNotCounting.
func notCounting(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrNotCounting, fmt.Sprintf(format, a...))
}

// mapsOf lists a set's maps by pin name.
func mapsOf(s *mapSet) map[string]*ebpf.Map { return mapsOfObjs(s.objs) }

func mapsOfObjs(o productObjects) map[string]*ebpf.Map {
	return map[string]*ebpf.Map{
		netctlMapTotalsByIndex: o.TotalsByIndex, netctlMapTotals: o.Totals,
		netctlMapFlows: o.Flows, netctlMapFlowCache: o.FlowCache, netctlMapStats: o.Stats,
	}
}

// mapID is the kernel's ID of m, 0 when it cannot be had.
func mapID(m *ebpf.Map) ebpf.MapID {
	info, err := m.Info()
	if err != nil {
		return 0
	}
	id, _ := info.ID()
	return id
}

// Check reports why the datapath does not count what it attached to, or nil: a map set's
// pinned maps were removed or replaced by other maps, or an interface it attached to
// lost the programs that count into its set's maps. The error matches ErrNotCounting. Reload
// and attaching again repair it.
func (d *Datapath) Check() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cookies := make([]uint64, 0, len(d.sets))
	for c := range d.sets {
		cookies = append(cookies, c)
	}
	slices.Sort(cookies) // the host's set (0) first
	for _, c := range cookies {
		if err := checkPins(d.sets[c]); err != nil {
			return err
		}
	}
	keys := slices.SortedFunc(maps.Keys(d.attached), func(a, b setIfindex) int {
		return cmp.Or(cmp.Compare(a.cookie, b.cookie), cmp.Compare(a.ifindex, b.ifindex))
	})
	for _, k := range keys {
		s := d.sets[k.cookie]
		l, err := s.nl.LinkByIndex(k.ifindex)
		if err != nil {
			delete(d.attached, k) // gone, and its programs with it
			continue
		}
		if !d.counts(s, k.ifindex) {
			return notCounting("%s (ifindex %d) carries no programs that count into netctl's maps (detached, or replaced by another tool)", l.Attrs().Name, k.ifindex)
		}
	}
	return nil
}

// checkPins reports whether the maps pinned for s are the maps s reads.
func checkPins(s *mapSet) error {
	for name, m := range mapsOf(s) {
		p := filepath.Join(s.dir, mapsSubdir, name)
		pinned, err := ebpf.LoadPinnedMap(p, &ebpf.LoadPinOptions{ReadOnly: true})
		if err != nil {
			return notCounting("pinned map %s is gone (netctl detach?)", p)
		}
		same := mapID(pinned) == mapID(m)
		pinned.Close()
		if !same {
			return notCounting("pinned map %s is another map than the one read (detached and attached again?)", p)
		}
	}
	return nil
}

// counts reports whether ifindex, in s's namespace, carries on both hooks programs that
// count into s's maps.
func (d *Datapath) counts(s *mapSet, ifindex int) bool {
	ids, ok := d.attachedPrograms(s, ifindex)
	if !ok {
		return false
	}
	want := mapID(s.objs.TotalsByIndex)
	for _, id := range ids {
		if !slices.Contains(d.programMaps(id), want) {
			return false
		}
	}
	return true
}

// programMaps returns the IDs of the maps the program with ID id uses (none when it
// is gone), remembered: a program's maps never change, and Check asks every second.
func (d *Datapath) programMaps(id ebpf.ProgramID) []ebpf.MapID {
	if m, ok := d.progMaps[id]; ok {
		return m
	}
	if len(d.progMaps) > 4096 {
		clear(d.progMaps) // programs come and go with reattaches: keep it small
	}
	m := mapsOfProgram(id)
	if m != nil {
		d.progMaps[id] = m
	}
	return m
}

// attachedPrograms returns the IDs of netctl's two programs on ifindex in s's
// namespace: its pinned TCX links' or its tc filters'. ok is false when either is
// missing.
func (d *Datapath) attachedPrograms(s *mapSet, ifindex int) ([]ebpf.ProgramID, bool) {
	var ids []ebpf.ProgramID
	for _, dir := range []Direction{Ingress, Egress} {
		l, err := link.LoadPinnedLink(linkPin(s, ifindex, dir), nil)
		if err != nil {
			break
		}
		info, err := l.Info()
		l.Close()
		if err != nil || info.TCX() == nil || int(info.TCX().Ifindex) != ifindex {
			break
		}
		ids = append(ids, info.Program)
	}
	if len(ids) == 2 {
		return ids, true
	}
	l, err := s.nl.LinkByIndex(ifindex)
	if err != nil {
		return nil, false
	}
	ids = ids[:0]
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		f := ourFilter(s.nl, l, parent)
		if f == nil {
			return nil, false
		}
		ids = append(ids, ebpf.ProgramID(f.Id))
	}
	return ids, true
}

// mapsOfProgram asks the kernel for the IDs of the maps the program with ID id uses.
func mapsOfProgram(id ebpf.ProgramID) []ebpf.MapID {
	p, err := ebpf.NewProgramFromID(id)
	if err != nil {
		return nil
	}
	defer p.Close()
	info, err := p.Info()
	if err != nil {
		return nil
	}
	ids, _ := info.MapIDs()
	return ids
}

// Reload opens every map set again from its pins: the maps pinned now (another
// netctl's, after a detach and attach) are adopted, and maps whose pins are gone are
// made anew and pinned. Reads then follow the maps the programs count into; the
// interfaces must be attached again (AttachBridge, AttachNamed), which adopts what
// already counts into these maps and replaces what does not. changed says whether any
// set now reads other maps than before (their counters start from zero).
func (d *Datapath) Reload() (changed bool, err error) {
	var old []productObjects
	defer func() {
		d.readMu.Lock() // the reads that took the old maps are done
		for _, o := range old {
			_ = o.Close()
		}
		d.readMu.Unlock()
	}()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.sets {
		prev := s.objs
		if err := loadSet(s, d.opts.FlowEntries); err != nil {
			return changed, err
		}
		old = append(old, prev)
		for name, m := range mapsOf(s) {
			if mapID(m) != mapID(mapsOfObjs(prev)[name]) {
				changed = true
			}
		}
	}
	if err := d.reg.reload(); err != nil {
		return changed, err
	}
	d.portsOK = false
	return changed, nil
}
