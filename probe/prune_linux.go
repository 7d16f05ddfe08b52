//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/netctl/netctl/internal/state"
)

// Prune removes what netctl keeps under opts' roots for namespaces that no longer
// exist: the pin folder and attach registry of a host namespace that is gone, and, in
// a host namespace's folder and registry, the map set and entries of a namespace where
// an interface was attached inside and that is gone. gone(cookie, path) says whether
// path, kept for the namespace with that cookie, is left over (nsutil.Liveness.Gone).
// It returns what it removed, one line each.
func Prune(opts Options, gone func(cookie uint64, path string) bool) ([]string, error) {
	var removed []string
	var errs []error
	hosts, _ := os.ReadDir(opts.bpfDir())
	for _, e := range hosts {
		cookie, err := strconv.ParseUint(e.Name(), 10, 64)
		if err != nil || !e.IsDir() {
			continue
		}
		dir := filepath.Join(opts.bpfDir(), e.Name())
		if gone(cookie, dir) {
			if err := os.RemoveAll(dir); err != nil {
				errs = append(errs, fmt.Errorf("remove pins %s: %w", dir, err))
				continue
			}
			removed = append(removed, "pins "+dir)
			continue
		}
		r, err := pruneSets(opts, cookie, dir, gone)
		removed = append(removed, r...)
		errs = append(errs, err)
	}
	regs, _ := os.ReadDir(opts.registryDir())
	for _, e := range regs {
		s, ok := strings.CutSuffix(e.Name(), ".json")
		cookie, err := strconv.ParseUint(s, 10, 64)
		if !ok || err != nil {
			continue
		}
		p := filepath.Join(opts.registryDir(), e.Name())
		if gone(cookie, p) {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove attach registry: %w", err))
				continue
			}
			removed = append(removed, "attach registry "+p)
		}
	}
	for _, p := range state.RemoveStaleTemp(opts.registryDir()) {
		removed = append(removed, "temporary file "+p)
	}
	_ = os.Remove(opts.bpfDir()) // only when no host namespace has pins left
	return removed, errors.Join(errs...)
}

// pruneSets removes, in the folder and registry of a host namespace that exists, the
// map sets and the entries of the namespaces that are gone.
func pruneSets(opts Options, hostCookie uint64, dir string, gone func(uint64, string) bool) ([]string, error) {
	var dead []uint64
	var removed []string
	var errs []error
	sets, _ := os.ReadDir(dir)
	for _, e := range sets {
		s, ok := strings.CutPrefix(e.Name(), setPrefix)
		cookie, err := strconv.ParseUint(s, 10, 64)
		if !ok || err != nil || !e.IsDir() {
			continue
		}
		p := setDir(dir, cookie)
		if !gone(cookie, p) {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("remove pins %s: %w", p, err))
			continue
		}
		dead = append(dead, cookie)
		removed = append(removed, "pins "+p)
	}
	reg, err := loadRegistry(opts.registryPath(hostCookie))
	if err != nil {
		return removed, errors.Join(append(errs, err)...)
	}
	var ports []regPort
	for _, rp := range reg.Ports {
		if rp.NSCookie != 0 && !slices.Contains(dead, rp.NSCookie) {
			// A set folder may be gone already (detached) while the entry stayed.
			if _, err := os.Stat(setDir(dir, rp.NSCookie)); err != nil && gone(rp.NSCookie, reg.path) {
				dead = append(dead, rp.NSCookie)
			}
		}
		if slices.Contains(dead, rp.NSCookie) {
			ports = append(ports, rp)
		}
	}
	for _, rp := range ports {
		if err := reg.removePort(rp.NSCookie, rp.Ifindex); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, fmt.Sprintf("attach registry %s: %s in namespace %d", reg.path, rp.Name, rp.NSCookie))
	}
	return removed, errors.Join(errs...)
}
