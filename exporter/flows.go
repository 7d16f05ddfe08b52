package exporter

import (
	"cmp"
	"container/heap"
	"errors"
	"slices"
	"time"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/probe"
)

// What /flows serves, from the pass just applied: the busiest entries and the
// asymmetric conversations, kept in the view (at most MaxFlowsLimit of each).

// recHeap is a min-heap of rec indexes by bytes: the top MaxFlowsLimit of a pass.
type recHeap struct {
	idx  []int32
	recs []analysis.Rec
}

func (h *recHeap) Len() int           { return len(h.idx) }
func (h *recHeap) Less(i, j int) bool { return h.recs[h.idx[i]].Bytes < h.recs[h.idx[j]].Bytes }
func (h *recHeap) Swap(i, j int)      { h.idx[i], h.idx[j] = h.idx[j], h.idx[i] }
func (h *recHeap) Push(x any)         { h.idx = append(h.idx, x.(int32)) }
func (h *recHeap) Pop() any           { x := h.idx[len(h.idx)-1]; h.idx = h.idx[:len(h.idx)-1]; return x }

// topFlows returns the pass's MaxFlowsLimit entries with the most bytes, most first.
func (c *Collector) topFlows() []probe.Flow {
	st := c.flows
	h := &recHeap{recs: st.recs, idx: make([]int32, 0, min(len(st.recs), MaxFlowsLimit))}
	for i := range st.recs {
		switch {
		case len(h.idx) < MaxFlowsLimit:
			heap.Push(h, int32(i))
		case st.recs[i].Bytes > st.recs[h.idx[0]].Bytes:
			h.idx[0] = int32(i)
			heap.Fix(h, 0)
		}
	}
	out := make([]probe.Flow, len(h.idx))
	for n := len(h.idx) - 1; n >= 0; n-- {
		i := heap.Pop(h).(int32)
		out[n] = st.flowOf(int(i))
	}
	return out
}

// flowOf returns rec i as a snapshot flow.
func (st *flowState) flowOf(i int) probe.Flow {
	r := &st.recs[i]
	p := &st.pass.read.Ports[st.recPort[i]]
	dir := probe.Transmit
	if r.Receive {
		dir = probe.Receive
	}
	src, dst := r.LocalAddr(), r.RemoteAddr()
	if r.Receive {
		src, dst = dst, src
	}
	return probe.Flow{Container: p.Container, NetnsPath: p.NetnsPath, Interface: p.Interface, HostInterface: p.HostInterface,
		Direction: dir, Proto: r.Proto, Src: src, Dst: dst, SrcPort: r.SrcPort, DstPort: r.DstPort,
		Packets: r.Packets, Bytes: r.Bytes, FirstSeen: wallTime(st.wall(r.First)), LastSeen: wallTime(st.wall(r.Last)),
		TCPFlags: r.TCPFlags, TCPSynNoAck: r.SynNoAck}
}

func wallTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// conversations returns the pass's asymmetric conversations, most bytes out first, at
// most MaxFlowsLimit.
func (c *Collector) conversations() []analysis.Conversation {
	st := c.flows
	convs := st.pass.convs
	slices.SortFunc(convs, func(a, b convRef) int { return cmp.Compare(b.v.OutBytes, a.v.OutBytes) })
	convs = convs[:min(len(convs), MaxFlowsLimit)]
	out := make([]analysis.Conversation, 0, len(convs))
	for _, cr := range convs {
		r := &st.recs[cr.rec]
		p := &st.pass.read.Ports[st.recPort[cr.rec]]
		in, o := &st.labels.pairs[cr.v.In], &st.labels.pairs[cr.v.Out]
		conv := analysis.NewConversation(r, cr.v, in.container, in.iface, o.iface, wallTime(st.wall(cr.v.Last)))
		conv.NetnsPath = p.NetnsPath
		out = append(out, conv)
	}
	return out
}

// Flows returns, from a pass no older than a scrape would use (freshView), the flows
// with the most bytes (all) or the asymmetric conversations with the most bytes out, at
// most limit of them (1 … MaxFlowsLimit). The result is the caller's.
func (c *Collector) Flows(all bool, limit int) ([]probe.Flow, []analysis.Conversation, error) {
	v := c.freshView()
	if v == nil {
		return nil, nil, errors.New("no read of the flow tables finished yet")
	}
	if v.err != nil {
		return nil, nil, v.err
	}
	limit = max(1, min(limit, MaxFlowsLimit))
	if all {
		return slices.Clone(v.flows[:min(limit, len(v.flows))]), nil, nil
	}
	return nil, slices.Clone(v.convs[:min(limit, len(v.convs))]), nil
}
