//go:build linux && amd64

package probe

import (
	"testing"

	"github.com/cilium/ebpf"
)

// Temporary (not committed): the product object as it was before the flood check.
func BenchmarkProgramBeforeAfter(b *testing.B) {
	spec, err := ebpf.LoadCollectionSpec("/tmp/wj_before_netctl_bpfel.o")
	if err != nil {
		b.Fatal(err)
	}
	var old struct {
		In  *ebpf.Program `ebpf:"netctl_ingress"`
		Out *ebpf.Program `ebpf:"netctl_egress"`
	}
	if err := spec.LoadAndAssign(&old, nil); err != nil {
		b.Fatal(err)
	}
	objs := mustLoadObjs(b)
	setRxPort(b, objs, testRunIfindex, RxPort{Check: RxPeer, MAC: [6]byte(macB), Bridge: 7})
	flood := mustLoadObjs(b)
	setRxPort(b, flood, testRunIfindex, RxPort{Check: RxPeer, MAC: [6]byte(macC), Bridge: 7})
	bo := mustLoadBench(b)
	benchPrograms(b, []namedProg{
		{"empty", bo.Empty},
		{"before_ingress", old.In},
		{"before_egress", old.Out},
		{"after_ingress", objs.NetctlIngress},
		{"after_egress", objs.NetctlEgress},
		{"after_egress_flooded", flood.NetctlEgress},
	}, benchShapes())
}
