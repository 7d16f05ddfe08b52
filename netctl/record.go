//go:build linux

package netctl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/netctl/netctl/internal/state"
)

// Record is what `nic add` changed in one container, written before the first change.
type Record struct {
	Plan      Plan      `json:"plan"`
	CreatedAt time.Time `json:"created_at"`
	Complete  bool      `json:"complete"` // every step applied
}

// records holds what netctl changed under a state root, so any later process can undo
// it: dir/nic/<cookie>/<name>.json per NIC, kept per container namespace by cookie
// (inodes are reused quickly), and dir/lock/<cookie>.lock.
type records struct{ dir string }

func (s records) path(cookie uint64, name string) string {
	return filepath.Join(s.dir, "nic", strconv.FormatUint(cookie, 10), name+".json")
}

// write stores r atomically.
func (s records) write(r Record) error {
	if err := state.WriteJSON(s.path(r.Plan.NSCookie, r.Plan.Spec.Name), r, 0o600); err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	return nil
}

// read loads the record of NIC name in the namespace with that cookie; it returns an
// error matching os.ErrNotExist when there is none.
func (s records) read(cookie uint64, name string) (*Record, error) {
	var r Record
	if err := state.ReadJSON(s.path(cookie, name), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// remove deletes a NIC's record, and its namespace's folder when empty.
func (s records) remove(cookie uint64, name string) error {
	p := s.path(cookie, name)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove record: %w", err)
	}
	_ = os.Remove(filepath.Dir(p)) // fails while other NICs of the namespace remain
	return nil
}

// names lists the NIC names recorded for a namespace.
func (s records) names(cookie uint64) []string {
	ents, _ := os.ReadDir(filepath.Join(s.dir, "nic", strconv.FormatUint(cookie, 10)))
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() {
			out = append(out, n)
		}
	}
	return out
}

// sweepTemp removes the temporary files that a writer killed midway left in the folder
// of a namespace's records (state.WriteFile's ".NAME.*.tmp"). Only a holder of the
// namespace's lock may call it: no other writer is busy there then.
func (s records) sweepTemp(cookie uint64) {
	dir := filepath.Join(s.dir, "nic", strconv.FormatUint(cookie, 10))
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".tmp") {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	_ = os.Remove(dir) // when nothing else is left
}

// cookies lists the namespaces that have records.
func (s records) cookies() []uint64 {
	dirs, _ := os.ReadDir(filepath.Join(s.dir, "nic"))
	var out []uint64
	for _, d := range dirs {
		if c, err := strconv.ParseUint(d.Name(), 10, 64); err == nil && d.IsDir() {
			out = append(out, c)
		}
	}
	return out
}

// lock takes the per-namespace lock that serialises NIC changes of one container,
// waiting up to timeout. The returned function releases it and removes its file.
func (s records) lock(cookie uint64, timeout time.Duration) (func(), error) {
	l, err := state.Lock(filepath.Join(s.dir, "lock", strconv.FormatUint(cookie, 10)+".lock"), timeout)
	if errors.Is(err, state.ErrLocked) {
		return nil, fmt.Errorf("another netctl (%w) is changing this container's NICs (waited %s); try again", err, timeout)
	}
	if err != nil {
		return nil, err
	}
	return l.Unlock, nil
}
