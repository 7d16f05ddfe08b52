//go:build linux

package netctl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/netctl/netctl/internal/state"
)

// Prune removes the NIC records under the state root dir that describe NICs of
// namespaces that no longer exist: every record of a container namespace that is gone,
// and each record whose host namespace is gone (the veth went with either). It also
// removes lock files no process holds and temporary files killed writers left. gone
// says whether path, kept for the namespace with that cookie, is left over
// (nsutil.Liveness.Gone). It returns what it removed, one line each.
func Prune(dir string, gone func(cookie uint64, path string) bool) ([]string, error) {
	s := records{dir: dir}
	var removed []string
	var errs []error
	for _, cookie := range s.cookies() {
		cdir := filepath.Join(dir, "nic", strconv.FormatUint(cookie, 10))
		if gone(cookie, cdir) {
			if err := os.RemoveAll(cdir); err != nil {
				errs = append(errs, fmt.Errorf("remove NIC records: %w", err))
				continue
			}
			removed = append(removed, "NIC records "+cdir)
			continue
		}
		for _, name := range s.names(cookie) {
			p := s.path(cookie, name)
			r, err := s.read(cookie, name)
			if err != nil || r.Plan.HostCookie == 0 || !gone(r.Plan.HostCookie, p) {
				continue
			}
			if err := s.remove(cookie, name); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, fmt.Sprintf("NIC record %s (its host namespace is gone)", p))
		}
		for _, p := range state.RemoveStaleTemp(cdir) {
			removed = append(removed, "temporary file "+p)
		}
	}
	for _, p := range state.RemoveStaleLocks(filepath.Join(dir, "lock")) {
		removed = append(removed, "lock file "+p)
	}
	return removed, errors.Join(errs...)
}
