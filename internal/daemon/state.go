//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/netctl/netctl/internal/state"
)

// stateDir is the folder of the collector's memories under a state root.
func stateDir(root string) string { return filepath.Join(root, "serve") }

// StatePath is where the daemon keeps the collector's memory (exporter.SaveState) for
// the host namespace whose cookie is hostCookie: <stateDir>/serve/<cookie>.state, beside
// the attach registry, so exported counters continue across a restart of `netctl
// serve`. The cookie, unlike the inode, is never reused: a new namespace never inherits
// another's memory.
func StatePath(root string, hostCookie uint64) string {
	return filepath.Join(stateDir(root), strconv.FormatUint(hostCookie, 10)+".state")
}

// oldStatePath is where serve kept its memory as JSON before it had a binary form.
func oldStatePath(root string, hostCookie uint64) string {
	return filepath.Join(stateDir(root), strconv.FormatUint(hostCookie, 10)+".json")
}

// RemoveState removes the collector's memory of the host namespace whose cookie is
// hostCookie: it goes with the counters when they are detached. A missing file is not
// an error.
func RemoveState(root string, hostCookie uint64) error {
	for _, p := range []string{StatePath(root, hostCookie), oldStatePath(root, hostCookie)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove exporter state: %w", err)
		}
	}
	return nil
}

// PruneState removes the collectors' memories of host namespaces that no longer exist
// (gone, as nsutil.Liveness.Gone says), whatever their format, and the temporary files
// of killed writers, and returns what it removed.
func PruneState(root string, gone func(cookie uint64, path string) bool) ([]string, error) {
	ents, _ := os.ReadDir(stateDir(root))
	var removed []string
	var errs []error
	for _, e := range ents {
		s, ext, _ := strings.Cut(e.Name(), ".") // <cookie>.<format>
		cookie, err := strconv.ParseUint(s, 10, 64)
		if err != nil || ext == "lock" {
			continue
		}
		p := filepath.Join(stateDir(root), e.Name())
		if !gone(cookie, p) {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove exporter state: %w", err))
			continue
		}
		removed = append(removed, "exporter state "+p)
	}
	for _, p := range state.RemoveStaleTemp(stateDir(root)) {
		removed = append(removed, "temporary file "+p)
	}
	for _, p := range state.RemoveStaleLocks(stateDir(root)) {
		removed = append(removed, "lock file "+p)
	}
	return removed, errors.Join(errs...)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
