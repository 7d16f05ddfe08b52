//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

// What netctl pinned for a host namespace, without a Datapath: read it (status, flows),
// ask whether it is there, remove it all (detach).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/nsutil"
)

// ReadPinned reads the counters that netctl pinned for host namespace host under
// opts' roots, without loading or attaching anything (netctl status, netctl flows).
func ReadPinned(ctx context.Context, host netns.NsHandle, opts Options) (Snapshot, error) {
	cookie, err := nsutil.Cookie(host)
	if err != nil {
		return Snapshot{}, err
	}
	sets, err := pinnedSets(opts.pinDir(cookie))
	if err != nil {
		return Snapshot{}, err
	}
	defer func() {
		for _, s := range sets {
			s.close()
		}
	}()
	reg, err := loadRegistry(opts.registryPath(cookie))
	if err != nil {
		return Snapshot{}, err
	}
	nl, err := nsutil.Handle(host)
	if err != nil {
		return Snapshot{}, err
	}
	defer nl.Close()
	return snapshot(sets, registeredPorts(ctx, nl, reg, opts.Docker))
}

// DetachReport says what Detach removed.
type DetachReport struct {
	Links   int `json:"links"`   // TCX links
	Filters int `json:"filters"` // tc filters
	Qdiscs  int `json:"qdiscs"`  // clsact qdiscs netctl had created
	Pins    int `json:"pins"`    // pinned maps and folders
}

// HasPins reports whether netctl pinned anything for host namespace host under opts'
// pin root: counters an earlier attach or serve left, which a new one adopts.
func HasPins(host netns.NsHandle, opts Options) (bool, error) {
	cookie, err := nsutil.Cookie(host)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(opts.pinDir(cookie))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look for pins: %w", err)
	}
	return true, nil
}

// Detach removes every program, link, filter, qdisc and pin netctl made for host
// namespace host under opts' roots, and its attach registry, and nothing else. Nothing
// to remove is success.
func Detach(host netns.NsHandle, opts Options) (DetachReport, error) {
	var rep DetachReport
	cookie, err := nsutil.Cookie(host)
	if err != nil {
		return rep, err
	}
	reg, err := loadRegistry(opts.registryPath(cookie))
	if err != nil {
		return rep, err
	}
	var errs []error
	root := opts.pinDir(cookie)
	// TCX links: unpinning the last reference detaches.
	_ = filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || filepath.Base(filepath.Dir(p)) != linksSubdir {
			return nil
		}
		l, lerr := link.LoadPinnedLink(p, nil)
		if lerr != nil {
			errs = append(errs, fmt.Errorf("open pinned link %s: %w", p, lerr))
			return nil
		}
		if uerr := l.Unpin(); uerr != nil {
			errs = append(errs, fmt.Errorf("unpin %s: %w", p, uerr))
		} else {
			rep.Links++
		}
		l.Close()
		return nil
	})
	// tc filters and the qdiscs netctl created.
	for _, rp := range reg.Ports {
		if rp.Mode != ModeTC {
			continue
		}
		f, q, err := detachTC(host, rp, reg.createdQdisc(rp.NSCookie, rp.Ifindex))
		rep.Filters += f
		rep.Qdiscs += q
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Pinned maps and the folders.
	_ = filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rep.Pins++
		}
		return nil
	})
	if err := os.RemoveAll(root); err != nil {
		errs = append(errs, fmt.Errorf("remove pins: %w", err))
	}
	_ = os.Remove(opts.bpfDir()) // only when no other host namespace has pins
	if err := reg.remove(); err != nil {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

func detachTC(host netns.NsHandle, rp regPort, createdQdisc bool) (filters, qdiscs int, err error) {
	ns := host
	if rp.NSCookie != 0 {
		h, err := nsutil.OpenPath(rp.NSPath)
		if err != nil {
			return 0, 0, nil // the namespace is gone, and its filters with it
		}
		defer h.Close()
		if c, _ := nsutil.Cookie(h); c != rp.NSCookie {
			return 0, 0, nil // another namespace at that path now
		}
		ns = h
	}
	nl, err := nsutil.Handle(ns)
	if err != nil {
		return 0, 0, err
	}
	defer nl.Close()
	l, err := nl.LinkByIndex(rp.Ifindex)
	if err != nil {
		return 0, 0, nil // the interface is gone, and its filters with it
	}
	others := 0
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		for f := ourFilter(nl, l, parent); f != nil; f = ourFilter(nl, l, parent) {
			if err := nl.FilterDel(f); err != nil {
				return filters, 0, fmt.Errorf("delete tc filter on %s: %w", l.Attrs().Name, err)
			}
			filters++
		}
		if fl, err := nl.FilterList(l, parent); err == nil {
			others += len(fl)
		}
	}
	if createdQdisc && others == 0 {
		q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: rp.Ifindex,
			Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"}
		if err := nl.QdiscDel(q); err != nil {
			return filters, 0, fmt.Errorf("delete clsact qdisc on %s: %w", l.Attrs().Name, err)
		}
		qdiscs++
	}
	return filters, qdiscs, nil
}
