//go:build linux

// Package nstest has helpers for privileged tests: root gating and per-test network
// namespaces with unique names that are removed by t.Cleanup even when the test fails.
package nstest

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/nsutil"
)

var seq atomic.Uint64

// RequireRoot skips the test, printing why, unless it runs as root.
// CI runs as root, so privileged tests run there.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("skipping: needs root (network namespaces, veths, eBPF); running as uid %d", os.Geteuid())
	}
}

// UniqueName returns a name unique to this process and call, short enough for an
// interface name when prefix is at most 5 bytes ("pfx" + pid + seq ≤ 15 bytes).
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s%x%x", prefix, os.Getpid()&0xfffff, seq.Add(1))
}

// NS is a network namespace made for one test.
type NS struct {
	Name   string          // name under /var/run/netns, usable with `ip netns exec`
	Handle netns.NsHandle  // open fd of the namespace
	Link   *netlink.Handle // netlink handle bound to the namespace
}

// NewNS creates a named network namespace for the test (loopback up) and removes it in
// t.Cleanup. It calls RequireRoot first.
func NewNS(t testing.TB) *NS {
	t.Helper()
	RequireRoot(t)
	name := UniqueName("nctest-")
	h, err := nsutil.CreateNamed(name)
	if err != nil {
		t.Fatalf("create test netns: %v", err)
	}
	t.Cleanup(func() {
		h.Close()
		if err := nsutil.DeleteNamed(name); err != nil {
			t.Errorf("cleanup netns %s: %v", name, err)
		}
	})
	nl, err := nsutil.Handle(h)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", name, err)
	}
	t.Cleanup(nl.Close)
	lo, err := nl.LinkByName("lo")
	if err != nil {
		t.Fatalf("lo in %s: %v", name, err)
	}
	if err := nl.LinkSetUp(lo); err != nil {
		t.Fatalf("lo up in %s: %v", name, err)
	}
	return &NS{Name: name, Handle: h, Link: nl}
}

// BPFDir returns a pin root of the test's own under /sys/fs/bpf (not created), removed
// with everything in it at cleanup, for probe.Options.BPFDir and NETCTL_BPF_DIR.
func BPFDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("/sys/fs/bpf", UniqueName("nctest-"))
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove pins %s: %v", dir, err)
		}
	})
	return dir
}
