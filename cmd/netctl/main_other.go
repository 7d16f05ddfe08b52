//go:build !linux || !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"fmt"
	"os"
	"runtime"
)

// netctl works on Linux's network namespaces, netlink and tc eBPF programs, and its
// eBPF objects are built little-endian only: elsewhere the command only says so.
func main() {
	if runtime.GOOS != "linux" {
		fmt.Fprintf(os.Stderr, "netctl runs on Linux only (this is %s/%s)\n", runtime.GOOS, runtime.GOARCH)
	} else {
		fmt.Fprintf(os.Stderr, "netctl runs on Linux only, on a little-endian CPU such as amd64 or arm64 (this is %s/%s)\n", runtime.GOOS, runtime.GOARCH)
	}
	os.Exit(1)
}
