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

// registry is the attach record of one host namespace: the interfaces netctl attached
// to (so status and detach find them) and the clsact qdiscs it created (so detach
// removes those and no other).
type registry struct {
	path   string
	Ports  []regPort  `json:"ports"`
	Qdiscs []regQdisc `json:"qdiscs"`
}

// regPort is one attached interface.
type regPort struct {
	NSCookie uint64 `json:"netns_cookie"` // 0: the host namespace
	NSPath   string `json:"netns_path,omitempty"`
	Ifindex  int    `json:"ifindex"`
	Name     string `json:"name"`
	Mode     Mode   `json:"mode"`
}

// regQdisc is a clsact qdisc netctl created.
type regQdisc struct {
	NSCookie uint64 `json:"netns_cookie"`
	Ifindex  int    `json:"ifindex"`
}

// registryDir is the folder of the attach registries, one per host namespace.
func (o Options) registryDir() string {
	return filepath.Join(cmp.Or(o.StateDir, state.Dir()), "attach")
}

// registryPath is where the registry of the host namespace whose cookie is hostCookie
// lives.
func (o Options) registryPath(hostCookie uint64) string {
	return filepath.Join(o.registryDir(), strconv.FormatUint(hostCookie, 10)+".json")
}

// loadRegistry reads the registry at path; a missing file is an empty registry.
func loadRegistry(path string) (*registry, error) {
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
	fresh, err := loadRegistry(r.path)
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
	r.Ports = slices.DeleteFunc(r.Ports, func(o regPort) bool { return o.NSCookie == p.NSCookie && o.Ifindex == p.Ifindex })
	r.Ports = append(r.Ports, p)
	return r.save()
}

func (r *registry) removePort(nsCookie uint64, ifindex int) error {
	if err := r.reload(); err != nil {
		return err
	}
	r.Ports = slices.DeleteFunc(r.Ports, func(o regPort) bool { return o.NSCookie == nsCookie && o.Ifindex == ifindex })
	r.Qdiscs = slices.DeleteFunc(r.Qdiscs, func(o regQdisc) bool { return o.NSCookie == nsCookie && o.Ifindex == ifindex })
	return r.save()
}

func (r *registry) addQdisc(nsCookie uint64, ifindex int) error {
	if err := r.reload(); err != nil {
		return err
	}
	r.Qdiscs = append(r.Qdiscs, regQdisc{nsCookie, ifindex})
	return r.save()
}

func (r *registry) createdQdisc(nsCookie uint64, ifindex int) bool {
	return slices.Contains(r.Qdiscs, regQdisc{nsCookie, ifindex})
}

func (r *registry) remove() error {
	if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	r.Ports, r.Qdiscs = nil, nil
	return nil
}
