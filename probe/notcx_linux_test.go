//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"
)

// skipIfNoTCX skips the test when err says the kernel has no TCX (before Linux 6.6):
// there netctl attaches with tc, which the tc variants of the tests cover.
func skipIfNoTCX(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("skipping: this kernel has no TCX (Linux 6.6+): %v", err)
	}
}
