package exporter

import "math/bits"

// delta folds rec i's raw counters into its entry's state and returns how much the entry
// grew since the last read. An entry not known yet counts whole (the pinned tables
// outlive serve, so counters continue from the kernel's values), unless it was first
// seen before the baseline: the serve we took over from counted it, and what it carried
// since that serve's last read is not known (it is left out, so nothing is counted twice).
// An entry whose first-seen stamp is later than the last packet we saw of it was created
// again (evicted and re-inserted) and counts from 0.
func (st *flowState) delta(i int) (db, dp uint64) {
	h := st.hash(st.idOf(i))
	if st.collided[h] {
		return st.deltaExact(i)
	}
	e, known := st.entries.get(h)
	if known && e.gen == st.gen {
		// Another entry of this read has the same hash: from now on both are kept by their
		// exact identity. The other one was read first and its state is current.
		st.collided[h] = true
		st.side[st.idOf(int(e.rec))] = *e
		st.entries.remove(h)
		return st.deltaExact(i)
	}
	if !known {
		e = st.entries.add(h)
	}
	return st.fold(e, known, i)
}

// deltaExact is delta for an entry kept by its exact identity.
func (st *flowState) deltaExact(i int) (db, dp uint64) {
	id := st.idOf(i)
	e, ok := st.side[id]
	db, dp = st.fold(&e, ok, i)
	st.side[id] = e
	return db, dp
}

// fold updates e (known: e is the entry's state of the last read) with rec i.
func (st *flowState) fold(e *entryState, known bool, i int) (db, dp uint64) {
	r := &st.recs[i]
	first, last := uint64(r.First), uint64(r.Last)
	restarted := false
	switch {
	case known:
		restarted = first != 0 && e.last != 0 && first > e.last+restartSlack
	case st.baseline != 0 && first != 0 && first <= st.baseline:
		e.bytes, e.packets = r.Bytes, r.Packets // counted before the restart
	}
	b, p := counter{last: e.bytes}, counter{last: e.packets}
	db, dp = b.add(r.Bytes, restarted), p.add(r.Packets, restarted)
	e.bytes, e.packets, e.last, e.gen, e.rec = r.Bytes, r.Packets, last, st.gen, int32(i)
	return db, dp
}

// sweep forgets the entries this read did not see: the kernel evicted or deleted them.
func (st *flowState) sweep() {
	st.entries.sweep(st.gen)
	if len(st.collided) == 0 {
		return
	}
	for id, e := range st.side {
		if e.gen != st.gen {
			delete(st.side, id)
		}
	}
	clear(st.collided)
	for id := range st.side {
		st.collided[st.hash(id)] = true
	}
}

// entryTable keeps the entries' states in one open-addressing table keyed by their hash
// (linear probing, no tombstones): one probe, usually one cache line, per entry and read,
// the state updated in place, 40 bytes per slot at a load between 1/4 and 7/8 (2/3 when
// sized).
type entryTable struct {
	slots []entryState // hash 0: free
	n     int
}

// home is where h's probe starts.
func (t *entryTable) home(h uint64) int {
	i, _ := bits.Mul64(h, uint64(len(t.slots)))
	return int(i)
}

// find returns h's slot, or the free slot where it would go.
func (t *entryTable) find(h uint64) int {
	i := t.home(h)
	for t.slots[i].hash != 0 && t.slots[i].hash != h {
		if i++; i == len(t.slots) {
			i = 0
		}
	}
	return i
}

// get returns the state of the entry whose hash is h.
func (t *entryTable) get(h uint64) (*entryState, bool) {
	if len(t.slots) == 0 {
		return nil, false
	}
	s := &t.slots[t.find(h)]
	return s, s.hash == h
}

// add makes a zero state for h (not in the table), growing the table above 7/8 full.
func (t *entryTable) add(h uint64) *entryState {
	if (t.n+1)*8 > len(t.slots)*7 {
		t.resize(t.n + 1)
	}
	s := &t.slots[t.find(h)]
	*s = entryState{hash: h}
	t.n++
	return s
}

// remove forgets h.
func (t *entryTable) remove(h uint64) {
	if i := t.find(h); t.slots[i].hash == h {
		t.deleteAt(i)
	}
}

// fit sizes the table for a read of n entries, most of them known (add grows it when
// they are not): rebuilt at 2/3 full when n would fill it above 7/8 or below 1/4.
func (t *entryTable) fit(n int) {
	want := max(t.n, n)
	if size := len(t.slots); size > 0 && want*8 <= size*7 && (want*4 >= size || size <= 1024) {
		return
	}
	t.resize(want)
}

// resize rebuilds the table for n entries at 2/3 full.
func (t *entryTable) resize(n int) {
	old := t.slots
	t.slots, t.n = make([]entryState, max(1024, n*3/2)), 0
	for i := range old {
		if old[i].hash != 0 {
			t.slots[t.find(old[i].hash)] = old[i]
			t.n++
		}
	}
}

// deleteAt frees slot i and moves back the entries after it whose probe passed it, so
// no lookup is cut short.
func (t *entryTable) deleteAt(i int) {
	size := len(t.slots)
	for j := i; ; {
		if j++; j == size {
			j = 0
		}
		s := &t.slots[j]
		if s.hash == 0 {
			break
		}
		// s may fill i unless its home lies cyclically in (i, j].
		h := t.home(s.hash)
		if (i < j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
			t.slots[i] = *s
			i = j
		}
	}
	t.slots[i] = entryState{}
	t.n--
}

// sweep forgets the entries that read gen did not see.
func (t *entryTable) sweep(gen uint32) {
	size := len(t.slots)
	start := 0 // scan from a free slot: no probe run crosses it
	for start < size && t.slots[start].hash != 0 {
		start++
	}
	for k := 1; k <= size; k++ {
		i := (start + k) % size
		for t.slots[i].hash != 0 && t.slots[i].gen != gen {
			t.deleteAt(i) // an entry from further on may move into i: look again
		}
	}
}

// len is the number of entries kept.
func (t *entryTable) len() int { return t.n }
