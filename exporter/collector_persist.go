package exporter

import (
	"errors"
	"fmt"
	"os"
	"time"

	statefile "github.com/netctl/netctl/internal/state"
)

// The collector's memory (last raw values and exported totals) is saved when serve
// stops and loaded when it starts, so counters continue across a restart even for what
// the kernel no longer holds: conversations gone idle, flows evicted, interfaces removed.

const savedVersion = 1

type savedCounter struct{ Last, Total uint64 }

func saveCounter(c counter) savedCounter { return savedCounter{c.last, c.total} }
func (s savedCounter) restore() counter  { return counter{last: s.Last, total: s.Total} }

type savedState struct {
	Version int
	Ifaces  []struct {
		Key                                    ifaceKey
		RxBytes, RxPackets, TxBytes, TxPackets savedCounter
		RxFloodedBytes, RxFloodedPackets       savedCounter
		Seen                                   time.Time
	}
	Entries []struct {
		Key                       entryKey
		Bytes, Packets            savedCounter
		FirstSeen, LastSeen, Seen time.Time
		Series                    seriesKey
	}
	Series []struct {
		Key     seriesKey
		Traffic traffic
		Active  time.Time
	}
	Asym []struct {
		Key    asymKey
		Bytes  uint64
		Active time.Time
		Flows  int
	}
	InsertFailed, NotParsed savedCounter
	Flood                   savedFlood
}

// SaveState writes the collector's memory to path, atomically (internal/state.WriteJSON).
func (c *Collector) SaveState(path string) error {
	c.mu.Lock()
	st := c.st
	var s savedState
	s.Version = savedVersion
	for k, v := range st.ifaces {
		s.Ifaces = append(s.Ifaces, struct {
			Key                                    ifaceKey
			RxBytes, RxPackets, TxBytes, TxPackets savedCounter
			RxFloodedBytes, RxFloodedPackets       savedCounter
			Seen                                   time.Time
		}{k, saveCounter(v.rxBytes), saveCounter(v.rxPackets), saveCounter(v.txBytes), saveCounter(v.txPackets),
			saveCounter(v.rxFloodedBytes), saveCounter(v.rxFloodedPackets), v.seen})
	}
	for k, v := range st.entries {
		s.Entries = append(s.Entries, struct {
			Key                       entryKey
			Bytes, Packets            savedCounter
			FirstSeen, LastSeen, Seen time.Time
			Series                    seriesKey
		}{k, saveCounter(v.bytes), saveCounter(v.packets), v.firstSeen, v.lastSeen, v.seen, v.series})
	}
	for k, v := range st.series {
		s.Series = append(s.Series, struct {
			Key     seriesKey
			Traffic traffic
			Active  time.Time
		}{k, v.traffic, v.active})
	}
	for k, v := range st.asym {
		s.Asym = append(s.Asym, struct {
			Key    asymKey
			Bytes  uint64
			Active time.Time
			Flows  int
		}{k, v.bytes, v.active, v.flows})
	}
	s.InsertFailed, s.NotParsed = saveCounter(st.insertFailed), saveCounter(st.notParsed)
	s.Flood = st.flood.save()
	c.mu.Unlock()

	if err := statefile.WriteJSON(path, s, 0o600); err != nil {
		return fmt.Errorf("save exporter state: %w", err)
	}
	return nil
}

// LoadState restores the memory SaveState wrote. A missing file is not an error (first
// start); a file of another version is ignored.
func (c *Collector) LoadState(path string) error {
	var s savedState
	err := statefile.ReadJSON(path, &s)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load exporter state: %w", err)
	}
	if s.Version != savedVersion {
		return nil
	}
	st := newState()
	for _, v := range s.Ifaces {
		st.ifaces[v.Key] = &ifaceState{rxBytes: v.RxBytes.restore(), rxPackets: v.RxPackets.restore(),
			txBytes: v.TxBytes.restore(), txPackets: v.TxPackets.restore(),
			rxFloodedBytes: v.RxFloodedBytes.restore(), rxFloodedPackets: v.RxFloodedPackets.restore(), seen: v.Seen}
	}
	for _, v := range s.Entries {
		st.entries[v.Key] = &entryState{bytes: v.Bytes.restore(), packets: v.Packets.restore(),
			firstSeen: v.FirstSeen, lastSeen: v.LastSeen, seen: v.Seen, series: v.Series}
	}
	for _, v := range s.Series {
		st.series[v.Key] = &seriesState{traffic: v.Traffic, active: v.Active}
	}
	for _, v := range s.Asym {
		st.asym[v.Key] = &asymState{bytes: v.Bytes, active: v.Active, flows: v.Flows}
	}
	st.insertFailed, st.notParsed = s.InsertFailed.restore(), s.NotParsed.restore()
	st.flood = s.Flood.restore()
	c.mu.Lock()
	c.st = st
	c.mu.Unlock()
	return nil
}
