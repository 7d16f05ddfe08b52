//go:build linux

package lab

import "net/netip"

// FlowDsts lists the address each flow of Traffic targets in the lab s, for the tests of
// package lab_test.
func FlowDsts(s Spec) []netip.Addr {
	var out []netip.Addr
	for _, f := range flows(s) {
		out = append(out, f.dstAddr)
	}
	return out
}
