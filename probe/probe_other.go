//go:build !linux || !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"fmt"
	"runtime"
)

// errUnsupported is returned by everything that needs the kernel on systems where the
// programs cannot run: not Linux, or a big-endian CPU (only bpfel objects are built).
var errUnsupported = fmt.Errorf("tc counters need linux on a little-endian cpu, this is %s/%s: %w",
	runtime.GOOS, runtime.GOARCH, errors.ErrUnsupported)

// CheckTCX returns an error: TCX needs Linux.
func CheckTCX() error { return fmt.Errorf("check tcx: %w", errUnsupported) }
