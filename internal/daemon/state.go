//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// StatePath is where the daemon keeps the collector's memory (exporter.SaveState) for
// the host namespace whose inode is hostIno: <stateDir>/serve/<inode>.state, beside the
// attach registry, so exported counters continue across a restart of `netctl serve`.
func StatePath(stateDir string, hostIno uint64) string {
	return filepath.Join(stateDir, "serve", strconv.FormatUint(hostIno, 10)+".state")
}

// oldStatePath is where serve kept its memory as JSON before it had a binary form.
func oldStatePath(stateDir string, hostIno uint64) string {
	return filepath.Join(stateDir, "serve", strconv.FormatUint(hostIno, 10)+".json")
}

// RemoveState removes the collector's memory of the host namespace whose inode is
// hostIno: it goes with the counters when they are detached. A missing file is not an
// error.
func RemoveState(stateDir string, hostIno uint64) error {
	for _, p := range []string{StatePath(stateDir, hostIno), oldStatePath(stateDir, hostIno)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove exporter state: %w", err)
		}
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
