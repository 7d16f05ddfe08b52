//go:build !linux || !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/cilium/ebpf/link"
)

// errUnsupported is returned by everything that needs the kernel on systems where the
// programs cannot run: not Linux, or a big-endian CPU (only bpfel objects are built).
var errUnsupported = fmt.Errorf("tc counters need linux on a little-endian cpu, this is %s/%s: %w",
	runtime.GOOS, runtime.GOARCH, errors.ErrUnsupported)

// Counter is the loaded counter programs and their map; on this system it cannot be
// loaded.
type Counter struct{}

// Load returns an error: the counter programs need Linux on a little-endian CPU.
func Load() (*Counter, error) { return nil, fmt.Errorf("load counter programs: %w", errUnsupported) }

// AttachTCX returns an error: TCX needs Linux.
func (c *Counter) AttachTCX(ifindex int, dir Direction) (link.Link, error) {
	return nil, fmt.Errorf("attach tcx %v on ifindex %d: %w", dir, ifindex, errUnsupported)
}

// Read returns an error: there are no counters on this system.
func (c *Counter) Read() (map[TotalsKey]Totals, error) {
	return nil, fmt.Errorf("read counters map: %w", errUnsupported)
}

// Close does nothing.
func (c *Counter) Close() error { return nil }

// CheckTCX returns an error: TCX needs Linux.
func CheckTCX() error { return fmt.Errorf("check tcx: %w", errUnsupported) }
