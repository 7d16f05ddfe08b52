//go:build linux

package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/netctl/netctl/internal/nsutil"
	"github.com/netctl/netctl/internal/state"
)

// DefaultDir returns the folder of lab records used when none is given: "lab" under the
// state root (state.Dir()). Like /var/run/netns it is on tmpfs, so both vanish together
// at boot.
func DefaultDir() string { return filepath.Join(state.Dir(), "lab") }

// record is what Up made, saved after every namespace it creates so that Down can clean
// up even after an interrupted Up, and so that Down never removes a namespace it did not
// make (a namespace is identified by its cookie, which the kernel never reuses, not only
// by its name).
type record struct {
	Prefix     string     `json:"prefix"`
	IPv6       bool       `json:"ipv6"`
	Container3 bool       `json:"container3,omitempty"`
	Complete   bool       `json:"complete"` // false while Up runs or if it was interrupted
	Created    time.Time  `json:"created"`
	Namespaces []recordNS `json:"namespaces"`
}

// recordNS identifies one namespace made by Up.
type recordNS struct {
	Role   Role   `json:"role"`
	Name   string `json:"name"`
	Cookie uint64 `json:"cookie"`
}

// recordPath is the record of the lab with prefix in the folder dir ("" for DefaultDir).
func recordPath(dir, prefix string) string {
	if dir == "" {
		dir = DefaultDir()
	}
	return filepath.Join(dir, prefix+".json")
}

// ErrNoLab is returned (wrapped) by Open and Status when no lab has the prefix.
var ErrNoLab = errors.New("no lab")

// reserveRecord creates the record of a new lab in dir, failing if one exists. Creating
// the file with O_EXCL makes two concurrent Ups of one prefix exclusive.
func reserveRecord(dir string, r *record) error {
	p := recordPath(dir, r.Prefix)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(p), err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("lab %s already exists; run 'netctl lab down --prefix %s' first", r.Prefix, r.Prefix)
	}
	if err != nil {
		return fmt.Errorf("create lab record: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create lab record: %w", err)
	}
	return saveRecord(dir, r)
}

// saveRecord replaces the record atomically.
func saveRecord(dir string, r *record) error {
	if err := state.WriteJSON(recordPath(dir, r.Prefix), r, 0o644); err != nil {
		return fmt.Errorf("save lab record: %w", err)
	}
	return nil
}

// readRecord reads the record of prefix; ErrNoLab if there is none.
func readRecord(dir, prefix string) (*record, error) {
	var r record
	err := state.ReadJSON(recordPath(dir, prefix), &r)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoLab
	}
	if err != nil {
		return nil, fmt.Errorf("read lab record: %w", err)
	}
	if r.Prefix != prefix {
		return nil, fmt.Errorf("read lab record %s: it is for prefix %q", recordPath(dir, prefix), r.Prefix)
	}
	return &r, nil
}

func removeRecord(dir, prefix string) error {
	if err := os.Remove(recordPath(dir, prefix)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove lab record: %w", err)
	}
	return nil
}

// owns reports whether the namespace called n.Name now is the one the record names.
func (n recordNS) owns() (bool, error) {
	if !nsutil.Exists(n.Name) {
		return false, nil
	}
	h, err := nsutil.OpenNamed(n.Name)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // removed meanwhile
	}
	if err != nil {
		return false, err
	}
	defer h.Close()
	c, err := nsutil.Cookie(h)
	if err != nil {
		return false, fmt.Errorf("netns %s: %w", n.Name, err)
	}
	return c == n.Cookie, nil
}
