// Package top is `netctl top`: a live terminal view of the counted interfaces, the
// flows by rate and the problems found (asymmetric conversations with their reason and
// fix), built on Bubble Tea's model/update/view split.
//
// Everything here is pure and runs without a kernel: a Source hands over Samples
// (cumulative counters in plain values), Rates turns two of them into a Frame, the Model
// holds what the user chose (view, sort, filter, pause) and View renders it. The one
// Source that reads the pinned maps lives with the command (cmd/netctl/top.go).
package top

import (
	"context"
	"time"
)

// Source reads the counters at one moment.
type Source interface {
	// Sample reads the counters now.
	Sample(ctx context.Context) (Sample, error)
}

// Sample is what a Source read at one moment: cumulative counters and the problems found,
// in plain values ready to display.
type Sample struct {
	Time time.Time
	// ReadStart is when the reading began (zero: Time). A flow that began after it and is
	// missing from this sample was missed by the reading, not older than it.
	ReadStart  time.Time
	Interfaces []Interface
	Flows      []Flow
	Problems   []Problem
	// Checked lists the kinds of problem the source looked for; the others are shown as
	// not checked rather than as absent.
	Checked []Kind
}

// Interface is one counted interface with its cumulative counters, from the container's
// point of view: receive = into the container.
type Interface struct {
	Container     string `json:"container"`
	Name          string `json:"interface"` // inside the container: eth0, eth1
	HostInterface string `json:"host_interface,omitempty"`
	Bridge        string `json:"bridge,omitempty"`
	RxBytes       uint64 `json:"rx_bytes"`
	RxPackets     uint64 `json:"rx_packets"`
	TxBytes       uint64 `json:"tx_bytes"`
	TxPackets     uint64 `json:"tx_packets"`
}

// key identifies an interface across samples.
func (i Interface) key() string { return i.Container + "\x00" + i.Name + "\x00" + i.HostInterface }

// Direction values of a Flow, the container's.
const (
	Receive  = "rx"
	Transmit = "tx"
)

// Flow is one flow on one interface in one direction, with cumulative counters. Proto,
// Src and Dst are formatted for display (they also identify the flow).
type Flow struct {
	Container string `json:"container"`
	Interface string `json:"interface"`
	Direction string `json:"direction"` // Receive or Transmit
	Proto     string `json:"proto"`
	Src       string `json:"src"`
	Dst       string `json:"dst"`
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
	// FirstSeen is when the flow's first packet was counted (zero: unknown). A flow new
	// since the last sample that began after it has a rate: all of it is in between.
	FirstSeen time.Time `json:"first_seen,omitzero"`
}

func (f Flow) key() string {
	return f.Container + "\x00" + f.Interface + "\x00" + f.Direction + "\x00" + f.Proto + "\x00" + f.Src + "\x00" + f.Dst
}

// Kind is a kind of problem.
type Kind string

// The kinds of problem the view knows. A Source lists in Sample.Checked only the kinds it
// really looked for (netctl's: asymmetric routes, wrong-source replies and unicast
// flooding; not yet unobserved bridge ports), and the view says which were not checked.
const (
	KindAsymmetric  Kind = "asymmetric"   // a conversation arrives on one interface and leaves on another
	KindWrongSource Kind = "wrong-source" // a reply leaves from another address than the request went to
	KindFlooding    Kind = "flooding"     // the bridge floods unicast frames for a MAC it forgot
	KindUnobserved  Kind = "unobserved"   // a bridge port carries no counters: its traffic is invisible
)

// Kinds lists every kind, in display order.
var Kinds = []Kind{KindAsymmetric, KindWrongSource, KindFlooding, KindUnobserved}

// kindWords are each kind's name in words and the plural of what it is about.
var kindWords = map[Kind]struct{ label, noun string }{
	KindAsymmetric:  {"asymmetric routes", "conversations"},
	KindWrongSource: {"wrong-source replies", "flows"},
	KindFlooding:    {"unicast flooding", "interfaces"},
	KindUnobserved:  {"unobserved ports", "ports"},
}

// Label is the kind in words, for the view.
func (k Kind) Label() string {
	if w, ok := kindWords[k]; ok {
		return w.label
	}
	return string(k)
}

// noun names what a problem of the kind is about, in the plural.
func (k Kind) noun() string {
	if w, ok := kindWords[k]; ok {
		return w.noun
	}
	return "problems"
}

// Problem is one thing found wrong, with why and what to do about it.
type Problem struct {
	Kind      Kind   `json:"kind"`
	Container string `json:"container"`
	// Subject is what the problem concerns, e.g. "icmp 172.17.0.2 ⇄ 172.17.0.3 id 7".
	Subject string `json:"subject"`
	// Where names the interfaces involved, in the order things happen: "in eth0→out
	// eth1" is a request in on eth0 answered out of eth1.
	Where string `json:"where"`
	// Bytes is a cumulative count of what the problem concerns (asymmetric: the bytes
	// that left on the other interface); its rate says whether it is still going on.
	Bytes  uint64 `json:"bytes"`
	Reason string `json:"reason"`
	Fix    string `json:"fix,omitempty"`
	// LastSeen is when the problem was last seen happening (zero: unknown).
	LastSeen time.Time `json:"last_seen,omitzero"`
}

func (p Problem) key() string {
	return string(p.Kind) + "\x00" + p.Container + "\x00" + p.Subject + "\x00" + p.Where
}
