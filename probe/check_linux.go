//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"

	"github.com/netctl/netctl/internal/nsutil"
)

// checkNSPrefix starts the name of the temporary namespace CheckTCX makes.
const checkNSPrefix = "netctl-check-"

// CheckLoad tells whether the kernel accepts netctl's programs and maps, by loading
// them unpinned and releasing them; the error carries the verifier's log.
func CheckLoad() error {
	var objs netctlObjects
	if err := loadNetctlObjects(&objs, nil); err != nil {
		return fmt.Errorf("load programs: %w", withVerifierLog(err))
	}
	return objs.Close()
}

// CheckTCX tells whether TCX attachment works on this machine, by doing it: it loads
// the counter programs, makes a temporary named network namespace with a veth pair in
// it, attaches the ingress program to one end with TCX and detaches it. Everything it
// made is removed, also on failure; no other namespace is touched. The error wraps the
// kernel's (errors.Is(err, ebpf.ErrNotSupported) when the kernel has no TCX).
func CheckTCX() (err error) {
	var objs netctlObjects
	if err := loadNetctlObjects(&objs, nil); err != nil {
		return fmt.Errorf("check tcx: load programs: %w", withVerifierLog(err))
	}
	defer objs.Close()

	name := fmt.Sprintf("%s%d-%08x", checkNSPrefix, os.Getpid(), rand.Uint32())
	ns, err := nsutil.CreateNamed(name)
	if err != nil {
		return fmt.Errorf("check tcx: %w", err)
	}
	defer func() {
		ns.Close()
		if derr := nsutil.DeleteNamed(name); derr != nil {
			err = errors.Join(err, fmt.Errorf("check tcx: %w", derr))
		}
	}()

	nl, err := nsutil.Handle(ns)
	if err != nil {
		return fmt.Errorf("check tcx: netlink handle in netns %s: %w", name, err)
	}
	defer nl.Close()

	const ifname = "check0"
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: ifname}, PeerName: "check1"}
	if err := nl.LinkAdd(veth); err != nil {
		return fmt.Errorf("check tcx: create veth %s in netns %s: %w", ifname, name, err)
	}
	defer func() {
		// Deleting the namespace would remove the pair too, but asynchronously;
		// deleting it here leaves nothing behind by the time CheckTCX returns.
		if derr := nl.LinkDel(veth); derr != nil {
			err = errors.Join(err, fmt.Errorf("check tcx: delete veth %s in netns %s: %w", ifname, name, derr))
		}
	}()
	l, err := nl.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("check tcx: find %s in netns %s: %w", ifname, name, err)
	}
	ifindex := l.Attrs().Index

	// TCX attach takes an ifindex resolved in the caller's namespace: enter it.
	err = nsutil.Do(ns, func() error {
		opts, err := tcxOptions(ifindex, Ingress, objs.NetctlIngress, objs.NetctlEgress)
		if err != nil {
			return err
		}
		tl, err := link.AttachTCX(opts)
		if err != nil {
			return fmt.Errorf("attach tcx ingress on ifindex %d: %w", ifindex, err)
		}
		if err := tl.Close(); err != nil {
			return fmt.Errorf("detach tcx ingress on ifindex %d: %w", ifindex, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check tcx on %s in netns %s: %w", ifname, name, err)
	}
	return nil
}
