package exporter

import (
	"net/netip"
	"strconv"

	dto "github.com/prometheus/client_model/go"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/probe"
)

// seriesKey is one flow series in fixed-size form: the labels of netctl_flow_*_total, with
// the container and interface as a label pair of labelTable.
type seriesKey struct {
	local, remote [16]byte
	pair          uint32
	port          uint16
	proto         uint8
	flags         uint8 // keyV4, keyPort
}

const (
	keyV4   = 1 << iota // the addresses are IPv4 (first 4 bytes)
	keyPort             // port is a service port (else the label is "")
)

// keyOfRec is the series a rec counts into, given its conversation's service port (-1:
// none).
func keyOfRec(r *analysis.Rec, port int) seriesKey {
	l, rm, _, _ := r.Ends()
	k := seriesKey{local: *l, remote: *rm, pair: r.Iface, proto: r.Proto}
	if r.V4 {
		k.flags |= keyV4
	}
	if port >= 0 {
		k.flags |= keyPort
		k.port = uint16(port)
	}
	return k
}

func (k *seriesKey) addr(b *[16]byte) netip.Addr {
	if k.flags&keyV4 != 0 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(*b)
}

// seriesLabels are a series' label values, made once when it is first tracked.
type seriesLabels struct {
	container, iface, proto, local, remote, port string
	pairs                                        []*dto.LabelPair // the same, for its samples
}

// series is one tracked flow series.
type series struct {
	traffic // what is exported
	key     seriesKey
	labels  *seriesLabels
	active  int64  // wall ns: the latest last-seen stamp of its entries
	fed     uint32 // the last read that had an entry of it
	prev    int32  // LRU by last growth (prev: more recent)
	next    int32
	used    bool
	dropped bool // the series limit left it out at the last read
}

// seriesTable is the tracked flow series, at most limit of them, in an LRU list by last
// growth. The policy when it is full: a new series takes the place of the one that grew
// longest ago if that one has had no traffic for evictIdle (it goes away, as after the
// idle timeout); otherwise the new series is not tracked and its traffic counts in the
// other series of its container and interface.
type seriesTable struct {
	all        []series
	byKey      map[seriesKey]int32
	free       []int32
	head, tail int32
	n, limit   int
	evicted    uint64 // series that gave their place to a new one
}

func (t *seriesTable) init(limit int) {
	t.byKey, t.head, t.tail, t.limit = map[seriesKey]int32{}, -1, -1, limit
}

// find returns the id of k's series, tracking it if it is new, grew and there is room
// (see seriesTable), or -1.
func (t *seriesTable) find(k seriesKey, grew bool, now, evictIdle int64, labels *labelTable) int32 {
	if id, ok := t.byKey[k]; ok {
		return id
	}
	if !grew {
		return -1
	}
	if t.n >= t.limit {
		if t.tail < 0 || now-t.all[t.tail].active < evictIdle {
			return -1
		}
		t.remove(t.tail, labels)
		t.evicted++
	}
	return t.insert(series{key: k, labels: labels.seriesLabels(&k)}, labels)
}

// insert tracks s (its key is new) as the most recent and returns its id.
func (t *seriesTable) insert(s series, labels *labelTable) int32 {
	var id int32
	if n := len(t.free); n > 0 {
		id, t.free = t.free[n-1], t.free[:n-1]
	} else {
		id = int32(len(t.all))
		t.all = append(t.all, series{})
	}
	s.used, s.prev, s.next = true, -1, -1
	t.all[id] = s
	t.byKey[s.key] = id
	t.link(id)
	t.n++
	labels.pairs[s.key.pair].series++
	return id
}

// remove stops tracking series id.
func (t *seriesTable) remove(id int32, labels *labelTable) {
	s := &t.all[id]
	delete(t.byKey, s.key)
	t.unlink(id)
	labels.pairs[s.key.pair].series--
	*s = series{}
	t.free = append(t.free, id)
	t.n--
}

// touch makes id the most recent.
func (t *seriesTable) touch(id int32) {
	if t.head != id {
		t.unlink(id)
		t.link(id)
	}
}

func (t *seriesTable) link(id int32) {
	s := &t.all[id]
	s.prev, s.next = -1, t.head
	if t.head >= 0 {
		t.all[t.head].prev = id
	}
	t.head = id
	if t.tail < 0 {
		t.tail = id
	}
}

func (t *seriesTable) unlink(id int32) {
	s := &t.all[id]
	if s.prev >= 0 {
		t.all[s.prev].next = s.next
	} else {
		t.head = s.next
	}
	if s.next >= 0 {
		t.all[s.next].prev = s.prev
	} else {
		t.tail = s.prev
	}
	s.prev, s.next = -1, -1
}

// forget stops tracking the series without traffic for idle that no entry of read gen
// feeds (a series whose entry is still in the kernel's table keeps its count, and
// continues it when the entry has traffic again, as long as it keeps its place).
func (t *seriesTable) forget(now, idle int64, gen uint32, labels *labelTable) {
	for id := range t.all {
		s := &t.all[id]
		if s.used && s.fed != gen && now-s.active > idle {
			t.remove(int32(id), labels)
		}
	}
}

// labelPair is a container and interface, the labels flow series share, and the other
// series of that interface.
type labelPair struct {
	container, iface string
	other            traffic // traffic of series not tracked
	otherActive      int64   // wall ns of its last growth
	series           int     // tracked series with this pair
	seen             uint32  // the last read whose ports had it
	seenAt           int64   // wall ns of that read
	used             bool
	otherPairs       []*dto.LabelPair // the other series' label pairs, made when first needed
}

// labelTable numbers the label pairs of the ports, so series keys and recs carry a
// number instead of two strings.
type labelTable struct {
	pairs  []labelPair
	byName map[[2]string]uint32
	free   []uint32
}

func (t *labelTable) init() { t.byName = map[[2]string]uint32{} }

// id returns the number of (container, iface), seen by read gen at now.
func (t *labelTable) id(container, iface string, gen uint32, now int64) uint32 {
	id, ok := t.byName[[2]string{container, iface}]
	if !ok {
		if n := len(t.free); n > 0 {
			id, t.free = t.free[n-1], t.free[:n-1]
		} else {
			id = uint32(len(t.pairs))
			t.pairs = append(t.pairs, labelPair{})
		}
		t.pairs[id] = labelPair{container: container, iface: iface, used: true}
		t.byName[[2]string{container, iface}] = id
	}
	t.pairs[id].seen, t.pairs[id].seenAt = gen, now
	return id
}

// forget drops the pairs whose interface has been gone for idle, with no tracked series
// and an other series idle as long.
func (t *labelTable) forget(now, idle int64, gen uint32) {
	for id := range t.pairs {
		p := &t.pairs[id]
		if p.used && p.seen != gen && now-p.seenAt > idle && p.series == 0 && now-p.otherActive > idle {
			delete(t.byName, [2]string{p.container, p.iface})
			*p = labelPair{}
			t.free = append(t.free, uint32(id))
		}
	}
}

// seriesLabels returns the label values of k.
func (t *labelTable) seriesLabels(k *seriesKey) *seriesLabels {
	p := &t.pairs[k.pair]
	port := ""
	if k.flags&keyPort != 0 {
		port = strconv.Itoa(int(k.port))
	}
	l := &seriesLabels{container: p.container, iface: p.iface, proto: probe.ProtoName(k.proto),
		local: k.addr(&k.local).String(), remote: k.addr(&k.remote).String(), port: port}
	l.pairs = labelPairs(flowRxBytes, l.container, l.iface, l.proto, l.local, l.remote, l.port)
	return l
}
