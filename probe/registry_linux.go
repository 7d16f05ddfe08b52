//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/netctl/netctl/internal/state"
)

// StateDir holds the registry of what netctl attached, per host namespace: the
// interfaces (so status and detach find them) and the clsact qdiscs netctl created (so
// detach removes those and no other). NETCTL_STATE_DIR overrides it.
var StateDir = cmp.Or(os.Getenv("NETCTL_STATE_DIR"), "/run/netctl")

// registry is the attach record of one host namespace.
type registry struct {
	path   string
	Ports  []regPort  `json:"ports"`
	Qdiscs []regQdisc `json:"qdiscs"`
}

// regPort is one attached interface.
type regPort struct {
	NSInode uint64 `json:"netns_inode"` // 0: the host namespace
	NSPath  string `json:"netns_path,omitempty"`
	Ifindex int    `json:"ifindex"`
	Name    string `json:"name"`
	Mode    Mode   `json:"mode"`
}

// regQdisc is a clsact qdisc netctl created.
type regQdisc struct {
	NSInode uint64 `json:"netns_inode"`
	Ifindex int    `json:"ifindex"`
}

func registryPath(hostIno uint64) string {
	return filepath.Join(StateDir, "attach", strconv.FormatUint(hostIno, 10)+".json")
}

func loadRegistry(hostIno uint64) (*registry, error) {
	return loadRegistryFrom(registryPath(hostIno))
}

func loadRegistryFrom(path string) (*registry, error) {
	r := &registry{path: path}
	err := state.ReadJSON(path, r)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read attach registry: %w", err)
	}
	return r, nil
}

func (r *registry) save() error {
	if err := state.WriteJSON(r.path, r, 0o600); err != nil {
		return fmt.Errorf("write attach registry: %w", err)
	}
	return nil
}

// reload reads the file again before a change: another netctl process (attach while
// serve runs) may have written it since this one read it.
func (r *registry) reload() error {
	fresh, err := loadRegistryFrom(r.path)
	if err != nil {
		return err
	}
	r.Ports, r.Qdiscs = fresh.Ports, fresh.Qdiscs
	return nil
}

func (r *registry) addPort(p regPort) error {
	if err := r.reload(); err != nil {
		return err
	}
	r.Ports = slices.DeleteFunc(r.Ports, func(o regPort) bool { return o.NSInode == p.NSInode && o.Ifindex == p.Ifindex })
	r.Ports = append(r.Ports, p)
	return r.save()
}

func (r *registry) removePort(nsIno uint64, ifindex int) error {
	if err := r.reload(); err != nil {
		return err
	}
	r.Ports = slices.DeleteFunc(r.Ports, func(o regPort) bool { return o.NSInode == nsIno && o.Ifindex == ifindex })
	r.Qdiscs = slices.DeleteFunc(r.Qdiscs, func(o regQdisc) bool { return o.NSInode == nsIno && o.Ifindex == ifindex })
	return r.save()
}

func (r *registry) addQdisc(nsIno uint64, ifindex int) error {
	if err := r.reload(); err != nil {
		return err
	}
	r.Qdiscs = append(r.Qdiscs, regQdisc{nsIno, ifindex})
	return r.save()
}

func (r *registry) createdQdisc(nsIno uint64, ifindex int) bool {
	return slices.Contains(r.Qdiscs, regQdisc{nsIno, ifindex})
}

func (r *registry) remove() error {
	if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	r.Ports, r.Qdiscs = nil, nil
	return nil
}
