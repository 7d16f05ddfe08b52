package netctl

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/state"
)

// StateDir holds what netctl changed, so any later process can undo it. It is under
// /run: a reboot destroys the namespaces and the NICs with them. NETCTL_STATE_DIR
// overrides it (tests, benchmarks).
var StateDir = cmp.Or(os.Getenv("NETCTL_STATE_DIR"), "/run/netctl")

// Record is what `nic add` changed in one container, written before the first change.
type Record struct {
	Plan      Plan      `json:"plan"`
	CreatedAt time.Time `json:"created_at"`
	Complete  bool      `json:"complete"` // every step applied
}

// Records are kept per container namespace, by cookie (inodes are reused quickly).
func recordPath(cookie uint64, name string) string {
	return filepath.Join(StateDir, "nic", strconv.FormatUint(cookie, 10), name+".json")
}

// WriteRecord stores r atomically (write to a temporary file, then rename).
func WriteRecord(r Record) error {
	if err := state.WriteJSON(recordPath(r.Plan.NSCookie, r.Plan.Spec.Name), r, 0o600); err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	return nil
}

// ReadRecord loads the record of NIC name in the namespace with that cookie; it returns
// os.ErrNotExist when there is none.
func ReadRecord(cookie uint64, name string) (*Record, error) {
	var r Record
	if err := state.ReadJSON(recordPath(cookie, name), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// RemoveRecord deletes a NIC's record, and its namespace's folder when empty.
func RemoveRecord(cookie uint64, name string) error {
	p := recordPath(cookie, name)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove record: %w", err)
	}
	_ = os.Remove(filepath.Dir(p)) // fails while other NICs of the namespace remain
	return nil
}

// Records lists the NIC names recorded for a namespace.
func Records(cookie uint64) []string {
	ents, _ := os.ReadDir(filepath.Join(StateDir, "nic", strconv.FormatUint(cookie, 10)))
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() {
			out = append(out, n)
		}
	}
	return out
}

// Lock takes the per-namespace lock that serialises NIC changes of one container,
// waiting up to timeout. The returned function releases it.
func Lock(cookie uint64, timeout time.Duration) (func(), error) {
	dir := filepath.Join(StateDir, "lock")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.FormatUint(cookie, 10)+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock: %w", err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another netctl is changing this container's NICs (waited %s); try again", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
