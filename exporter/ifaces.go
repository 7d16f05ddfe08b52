package exporter

import (
	"time"

	"github.com/netctl/netctl/probe"
)

// ifaceKey is one interface series: the labels of netctl_interface_*_total.
type ifaceKey struct {
	Container, Interface, HostInterface, Bridge string
}

type ifaceState struct {
	rxBytes, rxPackets, txBytes, txPackets counter
	rxFloodedBytes, rxFloodedPackets       counter
	seen                                   time.Time // last read that had it
}

// counters are the state's counters, in the order the state file keeps them.
func (s *ifaceState) counters() []*counter {
	return []*counter{&s.rxBytes, &s.rxPackets, &s.txBytes, &s.txPackets, &s.rxFloodedBytes, &s.rxFloodedPackets}
}

// ifaceView is one exported interface series and its values.
type ifaceView struct {
	ifaceKey
	traffic
	RxFloodedBytes, RxFloodedPackets uint64
}

// ifaceTable keeps the interface counters monotonic: one entry per interface, forgotten
// idle after its interface went.
type ifaceTable map[ifaceKey]*ifaceState

// apply folds the interface counters of one read in at now and returns what to export:
// the interfaces the read has.
func (t ifaceTable) apply(ics []probe.InterfaceCounters, now time.Time, idle time.Duration) []ifaceView {
	out := make([]ifaceView, 0, len(ics))
	for _, ic := range ics {
		k := ifaceKey{ic.Container, ic.Interface, ic.HostInterface, ic.Bridge}
		st := t[k]
		if st == nil {
			st = &ifaceState{}
			t[k] = st
		}
		st.rxBytes.add(ic.RxBytes, false)
		st.rxPackets.add(ic.RxPackets, false)
		st.txBytes.add(ic.TxBytes, false)
		st.txPackets.add(ic.TxPackets, false)
		st.rxFloodedBytes.add(ic.RxFloodedBytes, false)
		st.rxFloodedPackets.add(ic.RxFloodedPackets, false)
		st.seen = now
		out = append(out, ifaceView{k, traffic{st.rxBytes.total, st.rxPackets.total, st.txBytes.total, st.txPackets.total},
			st.rxFloodedBytes.total, st.rxFloodedPackets.total})
	}
	for k, st := range t {
		if now.Sub(st.seen) > idle {
			delete(t, k)
		}
	}
	return out
}
