//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"maps"
	"slices"
	"time"
)

// What netctl serve reads of a live datapath: the counters at every scrape (Counters)
// and the flow tables in passes (ReadFlows), with the ports resolved outside the
// datapath's lock (refs).

// setsLocked returns the datapath's map sets. d.mu is held.
func (d *Datapath) setsLocked() []mapRefs {
	sets := make([]mapRefs, 0, len(d.sets))
	for cookie, s := range d.sets {
		sets = append(sets, mapRefs{cookie: cookie, totalsIdx: s.objs.TotalsByIndex, totals: s.objs.Totals, flows: s.objs.Flows, stats: s.objs.Stats, cache: s.objs.FlowCache,
			flood: floodRefsOf(&s.objs.netctlMaps)})
	}
	return sets
}

// refs returns the map sets and the ports behind their interfaces. The ports are
// resolved again after an attach, a port gone or a change of the registry by another
// netctl (attach --iface); the resolution (netlink, the Docker API) runs without d.mu, so
// however slow it is, it holds up no other reader.
func (d *Datapath) refs(ctx context.Context) ([]mapRefs, []Port) {
	d.mu.Lock()
	sets := d.setsLocked()
	before := slices.Clone(d.reg.Ports)
	if err := d.reg.reload(); err == nil && !slices.Equal(before, d.reg.Ports) {
		d.portsOK = false
	}
	if d.portsOK {
		defer d.mu.Unlock()
		return sets, d.ports
	}
	reg := &registry{Ports: slices.Clone(d.reg.Ports)}
	nl, pending := d.sets[0].nl, maps.Clone(d.pending)
	d.mu.Unlock()

	ports := describedPorts(registeredPorts(ctx, nl, reg, d.opts.Docker), pending)
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.portsOK && slices.Equal(reg.Ports, d.reg.Ports) { // nothing changed meanwhile
		d.ports, d.portsOK = ports, true
	}
	return sets, ports
}

// describedPorts leaves out the host ports whose container is not known yet (pending):
// they are counted, and described once it is.
func describedPorts(ports []Port, pending map[int]time.Time) []Port {
	return slices.DeleteFunc(ports, func(p Port) bool { _, ok := pending[p.Ifindex]; return ok && !p.InContainer })
}

// Counters reads what a scrape reads every time: the totals and flooded counters of every
// port, the stats and what the bridges flooded (at most 4096 destinations). Its cost
// follows the number of ports, not of flows; beyond the maps it looks up only
// the ports of interfaces attached or gone since the last read (refs).
func (d *Datapath) Counters(ctx context.Context) (Counters, error) {
	d.readMu.RLock() // Reload closes the maps it replaced only after the reads of them
	defer d.readMu.RUnlock()
	sets, ports := d.refs(ctx)
	totals, err := readPortTotals(sets, ports)
	if err != nil {
		return Counters{}, err
	}
	stats, err := readStats(sets)
	if err != nil {
		return Counters{}, err
	}
	c := Counters{Time: time.Now(), Interfaces: Interfaces(NewPortMap(ports), totals), FlowCapacity: flowCapacity(sets),
		InsertFailed: stats[StatFlowInsertFailed], NotParsed: stats[StatNotParsed]}
	if err := addFloodedCounters(sets, c.Interfaces); err != nil {
		return c, err
	}
	c.Flooded, err = floodedDests(sets, ports)
	return c, err
}

// ReadFlows calls fn with every entry of the flow tables (see eachEntry: nothing is
// allocated per entry, the *Entry is reused) and returns the ports, the bridges'
// coverage and the clocks of the read. The datapath stays usable meanwhile (the watcher
// attaches ports, Counters reads): its lock is held only to take the map sets and ports.
// The Datapath must not be closed before ReadFlows returns.
func (d *Datapath) ReadFlows(ctx context.Context, fn func(*Entry)) (FlowRead, error) {
	d.readMu.RLock() // Reload closes the maps it replaced only after the reads of them
	defer d.readMu.RUnlock()
	sets, ports := d.refs(ctx)
	d.mu.Lock()
	bridges, reg, nl := slices.Clone(d.bridges), slices.Clone(d.reg.Ports), d.sets[0].nl
	d.mu.Unlock()
	r := FlowRead{Ports: ports, Bridges: bridgeStatus(nl, bridges, reg), Mono: monoNow(), Time: time.Now(), Capacity: flowCapacity(sets)}
	n, err := eachEntry(ctx, sets, fn)
	r.Entries = n
	return r, err
}
