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
// and each record whose host namespace is gone (the veth went with either), except a
// Docker container's while the engine knows the container (keepForRestart). It also
// removes lock files no process holds and temporary files killed writers left. gone
// says whether path, kept for the namespace with that cookie, is left over
// (nsutil.Liveness.Gone). It returns what it removed, one line each.
func Prune(dir string, gone func(cookie uint64, path string) bool) ([]string, error) {
	s := records{dir: dir}
	var removed []string
	var errs []error
	for _, cookie := range s.cookies() {
		cdir := filepath.Join(dir, "nic", strconv.FormatUint(cookie, 10))
		ctrGone := gone(cookie, cdir)
		for _, name := range s.names(cookie) {
			p := s.path(cookie, name)
			r, err := s.read(cookie, name)
			if err != nil {
				continue
			}
			why := ""
			switch {
			case ctrGone:
				why = "its container namespace is gone"
			case r.Plan.HostCookie != 0 && gone(r.Plan.HostCookie, p):
				why = "its host namespace is gone"
			default:
				continue
			}
			if keepForRestart(r) {
				continue // nic del on the restarted container says where the NIC went
			}
			if err := s.remove(cookie, name); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, fmt.Sprintf("NIC record %s (%s)", p, why))
		}
		for _, p := range state.RemoveStaleTemp(cdir) {
			removed = append(removed, "temporary file "+p)
		}
		if ctrGone {
			_ = os.Remove(cdir) // when nothing is kept in it
		}
	}
	for _, p := range state.RemoveStaleLocks(filepath.Join(dir, "lock")) {
		removed = append(removed, "lock file "+p)
	}
	return removed, errors.Join(errs...)
}
