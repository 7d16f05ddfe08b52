//go:build linux

// Package nsutil runs code inside network namespaces safely.
//
// A namespace is an open file descriptor (netns.NsHandle), never a PID looked up again.
// Work that needs the calling thread to be inside a namespace (a syscall with no netlink
// handle form, such as a TCX attach or opening a socket there) goes through Do, which runs
// it on a locked OS thread and never returns a thread in the wrong namespace to the pool.
// Everything else should use a netlink handle bound to the namespace (Handle). List
// finds the namespaces that can be named: Docker containers, named ones, processes'.
package nsutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NamedDir is where iproute2 keeps named network namespaces.
const NamedDir = "/var/run/netns"

// Do runs fn on a fresh locked OS thread that has entered ns, and waits for it.
// If the thread cannot be returned to its original namespace it is left locked, so the
// Go runtime destroys it instead of reusing it.
func Do(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Thread stays locked and dies with this goroutine.
			errc <- errors.Join(ferr, fmt.Errorf("return to original netns: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// ValidName reports whether name can be a named network namespace (a file under NamedDir).
func ValidName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("invalid netns name %q", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("invalid netns name %q: must not contain '/'", name)
	case strings.HasPrefix(name, "-") || strings.Contains(name, ";"):
		return fmt.Errorf("invalid netns name %q: must not start with '-' or contain ';'", name)
	case len(name) > 200:
		return fmt.Errorf("invalid netns name %q: too long", name)
	}
	return nil
}

// NamedPath returns the path of a named network namespace.
func NamedPath(name string) string { return filepath.Join(NamedDir, name) }

// Exists reports whether a named network namespace exists.
func Exists(name string) bool {
	_, err := os.Stat(NamedPath(name))
	return err == nil
}

// CreateNamed creates a new network namespace bound at NamedDir/name, as `ip netns add`
// does, without moving the caller into it. It fails if the name is taken.
func CreateNamed(name string) (netns.NsHandle, error) {
	if err := ValidName(name); err != nil {
		return netns.None(), err
	}
	if Exists(name) {
		return netns.None(), fmt.Errorf("create netns %s: %w", name, os.ErrExist)
	}
	if err := sharedNamedDir(); err != nil {
		return netns.None(), fmt.Errorf("create netns %s: %w", name, err)
	}
	type result struct {
		h   netns.NsHandle
		err error
	}
	resc := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			resc <- result{netns.None(), fmt.Errorf("get current netns: %w", err)}
			return
		}
		defer orig.Close()
		h, err := netns.NewNamed(name) // unshares this thread into the new namespace
		if serr := netns.Set(orig); serr != nil {
			if h.IsOpen() {
				h.Close()
			}
			resc <- result{netns.None(), errors.Join(err, fmt.Errorf("return to original netns: %w", serr))}
			return // thread stays locked and is destroyed
		}
		runtime.UnlockOSThread()
		if err != nil {
			_ = netns.DeleteNamed(name)
			resc <- result{netns.None(), fmt.Errorf("create netns %s: %w", name, err)}
			return
		}
		resc <- result{h, nil}
	}()
	r := <-resc
	return r.h, r.err
}

// sharedNamedDir makes NamedDir a shared mount point, as `ip netns add` does, so that
// the namespace bind mounts made in it propagate to (and can be removed from) every mount
// namespace that shares it, whichever of netctl and iproute2 made them.
func sharedNamedDir() error {
	if err := os.MkdirAll(NamedDir, 0o755); err != nil {
		return err
	}
	err := unix.Mount("", NamedDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) { // not a mount point yet
		if err := unix.Mount(NamedDir, NamedDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind mount %s: %w", NamedDir, err)
		}
		err = unix.Mount("", NamedDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("make %s a shared mount: %w", NamedDir, err)
	}
	return nil
}

// DeleteNamed removes a named network namespace as `ip netns delete` does. A namespace
// that does not exist is not an error.
func DeleteNamed(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	p := NamedPath(name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete netns %s: unmount: %w", name, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete netns %s: %w", name, err)
	}
	return nil
}

// OpenNamed opens a named network namespace.
func OpenNamed(name string) (netns.NsHandle, error) {
	if err := ValidName(name); err != nil {
		return netns.None(), err
	}
	return OpenPath(NamedPath(name))
}

// OpenPath opens the network namespace file at path (/proc/PID/ns/net, a bind mount),
// refusing anything else before it could block on it (a FIFO) or after (CheckNet).
func OpenPath(path string) (netns.NsHandle, error) {
	st, err := os.Stat(path)
	if err != nil {
		return netns.None(), fmt.Errorf("open netns %s: %w", path, unwrapPath(err))
	}
	if !st.Mode().IsRegular() {
		return netns.None(), fmt.Errorf("%s is not a network namespace (a %s)", path, fileKind(st.Mode()))
	}
	h, err := netns.GetFromPath(path)
	if err != nil {
		return netns.None(), fmt.Errorf("open netns %s: %w", path, unwrapPath(err))
	}
	if err := CheckNet(h, path); err != nil {
		h.Close()
		return netns.None(), err
	}
	return h, nil
}

// unwrapPath drops the *os.PathError around err, whose message would name the path
// a second time.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// fileKind names the type of a file that is not a namespace, for error messages.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "FIFO"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// Open opens the network namespace given as a name under NamedDir or as a path to a
// namespace file, as `ip -n` and the global --netns flag accept, refusing any other
// file (CheckNet). An empty ref opens the caller's namespace.
func Open(ref string) (netns.NsHandle, error) {
	switch {
	case ref == "":
		h, err := netns.Get()
		if err != nil {
			return netns.None(), fmt.Errorf("open current netns: %w", err)
		}
		return h, nil
	case strings.Contains(ref, "/"):
		return OpenPath(ref)
	default:
		return OpenNamed(ref)
	}
}

// WriteSysctl writes value to a sysctl (e.g. "net/ipv4/ip_forward") inside ns.
// /proc/sys/net is resolved against the namespace of the opening thread, hence Do.
func WriteSysctl(ns netns.NsHandle, key, value string) error {
	return Do(ns, func() error {
		if err := os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", strings.ReplaceAll(key, "/", "."), value, err)
		}
		return nil
	})
}

// ReadSysctl reads a sysctl inside ns.
func ReadSysctl(ns netns.NsHandle, key string) (string, error) {
	var out string
	err := Do(ns, func() error {
		b, err := os.ReadFile(filepath.Join("/proc/sys", key))
		if err != nil {
			return fmt.Errorf("read sysctl %s: %w", strings.ReplaceAll(key, "/", "."), err)
		}
		out = strings.TrimSpace(string(b))
		return nil
	})
	return out, err
}

// soNetnsCookie is SO_NETNS_COOKIE (Linux 5.14), missing from x/sys/unix.
const soNetnsCookie = 71

// Cookie returns the namespace's cookie: unlike its inode, never reused while the
// machine runs, so it identifies a namespace safely in records that outlive it.
func Cookie(ns netns.NsHandle) (uint64, error) {
	var c uint64
	err := Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		v, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, soNetnsCookie)
		if err != nil {
			return fmt.Errorf("SO_NETNS_COOKIE (Linux 5.14): %w", err)
		}
		c = v
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("netns cookie: %w", err)
	}
	return c, nil
}
