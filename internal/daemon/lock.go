//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/nsutil"
	"github.com/netctl/netctl/internal/state"
)

// lockPath is the lock that one serve per host namespace holds.
func lockPath(root string, hostCookie uint64) string {
	return filepath.Join(stateDir(root), strconv.FormatUint(hostCookie, 10)+".lock")
}

// Lock takes the lock that makes serve the only one for host namespace host: two
// would break each other's link watch and write the same state file. A second serve
// gets an error at once that names the first one's PID. Unlock releases it (its file
// goes with it).
func Lock(root string, host netns.NsHandle) (*state.LockFile, error) {
	cookie, err := nsutil.Cookie(host)
	if err != nil {
		return nil, err
	}
	l, err := state.Lock(lockPath(root, cookie), 0)
	var le *state.LockedError
	if errors.As(err, &le) {
		if le.PID > 0 {
			return nil, fmt.Errorf("another netctl serve (pid %d) serves this namespace already", le.PID)
		}
		return nil, errors.New("another netctl serve serves this namespace already")
	}
	return l, err
}
