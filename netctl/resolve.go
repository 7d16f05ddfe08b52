//go:build linux

package netctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/netctl/netctl/internal/docker"

	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/nsutil"
)

// Container is a resolved container reference: its network namespace, opened once.
type Container struct {
	Ref    Ref
	Label  string // Docker name, netns name, pid:N or the path
	ID     string // the Docker container's ID (RefDocker)
	NS     netns.NsHandle
	Inode  uint64 // the namespace's inode (shown to people; reused after it dies)
	Cookie uint64 // the namespace's cookie (never reused while the machine runs)
	View   NSView // how a shell reaches it, for --dry-run
}

// Close releases the namespace fd.
func (c *Container) Close() {
	if c != nil && c.NS.IsOpen() {
		c.NS.Close()
	}
}

// Resolve opens the network namespace of a container reference. A Docker container must
// be running, with its own network namespace; its PID is checked again after the open
// so a PID reused in between cannot redirect the work.
func Resolve(ctx context.Context, ref Ref) (*Container, error) {
	switch ref.Kind {
	case RefNetns:
		h, err := nsutil.OpenNamed(ref.Value)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("netns %s not found under %s", ref.Value, nsutil.NamedDir)
			}
			return nil, err
		}
		return finish(ref, ref.Value, h, NSView{Name: ref.Value})
	case RefPID:
		p := filepath.Join("/proc", ref.Value, "ns/net")
		h, err := netns.GetFromPath(p)
		if err != nil {
			return nil, fmt.Errorf("process %s: %w", ref.Value, errNoProc(err))
		}
		return finish(ref, "pid:"+ref.Value, h, NSView{Path: p})
	case RefPath:
		h, err := nsutil.OpenPath(ref.Value)
		if err != nil {
			return nil, err
		}
		return finish(ref, ref.Value, h, NSView{Path: ref.Value})
	case RefDocker:
		dc, err := docker.Default()
		if err != nil {
			return nil, err
		}
		d, err := dc.Inspect(ctx, ref.Value)
		if errors.Is(err, docker.ErrNoSuchContainer) {
			return nil, fmt.Errorf("no such container %q (docker); for a named netns say netns:%s", ref.Value, ref.Value)
		}
		if err != nil {
			return nil, err
		}
		if err := d.CheckUsable(); err != nil {
			return nil, err
		}
		p := filepath.Join("/proc", strconv.Itoa(d.State.Pid), "ns/net")
		h, err := netns.GetFromPath(p)
		if err != nil {
			return nil, fmt.Errorf("container %s (pid %d): %w", d.Name, d.State.Pid, errNoProc(err))
		}
		again, err := dc.Inspect(ctx, d.ID)
		if err != nil || again.State.Pid != d.State.Pid || !again.State.Running {
			h.Close()
			return nil, fmt.Errorf("container %s restarted while its namespace was opened; try again", d.Name)
		}
		c, err := finish(ref, d.Name, h, NSView{Path: p})
		if c != nil {
			c.ID = d.ID
		}
		return c, err
	}
	return nil, fmt.Errorf("unknown container reference kind %q", ref.Kind)
}

func errNoProc(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("no such process")
	}
	return err
}

// finish checks that h is a network namespace and records its inode.
func finish(ref Ref, label string, h netns.NsHandle, view NSView) (*Container, error) {
	if err := nsutil.CheckNet(h, ref.String()); err != nil {
		h.Close()
		return nil, err
	}
	ino, err := nsutil.Inode(h)
	if err != nil {
		h.Close()
		return nil, err
	}
	cookie, err := nsutil.Cookie(h)
	if err != nil {
		h.Close()
		return nil, err
	}
	return &Container{Ref: ref, Label: label, NS: h, Inode: ino, Cookie: cookie, View: view}, nil
}
