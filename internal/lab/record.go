package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nsutil"
)

// RecordDir holds one record file per lab (PREFIX.json), written by Up and read by Down,
// Open and Status. It is on tmpfs, like /var/run/netns, so both vanish together at boot.
const RecordDir = "/run/netctl/lab"

// record is what Up made, saved after every namespace it creates so that Down can clean
// up even after an interrupted Up, and so that Down never removes a namespace it did not
// make (a namespace is identified by its nsfs device and inode, not only its name).
type record struct {
	Prefix     string     `json:"prefix"`
	IPv6       bool       `json:"ipv6"`
	Complete   bool       `json:"complete"` // false while Up runs or if it was interrupted
	Created    time.Time  `json:"created"`
	Namespaces []recordNS `json:"namespaces"`
}

// recordNS identifies one namespace made by Up.
type recordNS struct {
	Role  Role   `json:"role"`
	Name  string `json:"name"`
	Dev   uint64 `json:"dev"`
	Inode uint64 `json:"inode"`
}

func recordPath(prefix string) string { return filepath.Join(RecordDir, prefix+".json") }

// ErrNoLab is returned (wrapped) by Open and Status when no lab has the prefix.
var ErrNoLab = errors.New("no lab")

// reserveRecord creates the record of a new lab, failing if one exists. Creating the file
// with O_EXCL makes two concurrent Ups of one prefix exclusive.
func reserveRecord(r *record) error {
	if err := os.MkdirAll(RecordDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", RecordDir, err)
	}
	f, err := os.OpenFile(recordPath(r.Prefix), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("lab %s already exists; run 'netctl lab down --prefix %s' first", r.Prefix, r.Prefix)
	}
	if err != nil {
		return fmt.Errorf("create lab record: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create lab record: %w", err)
	}
	return saveRecord(r)
}

// saveRecord replaces the record atomically (write to a temporary file, rename).
func saveRecord(r *record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode lab record: %w", err)
	}
	p := recordPath(r.Prefix)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write lab record: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write lab record: %w", err)
	}
	return nil
}

// readRecord reads the record of prefix; ErrNoLab if there is none.
func readRecord(prefix string) (*record, error) {
	b, err := os.ReadFile(recordPath(prefix))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoLab
	}
	if err != nil {
		return nil, fmt.Errorf("read lab record: %w", err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read lab record %s: %w", recordPath(prefix), err)
	}
	if r.Prefix != prefix {
		return nil, fmt.Errorf("read lab record %s: it is for prefix %q", recordPath(prefix), r.Prefix)
	}
	return &r, nil
}

func removeRecord(prefix string) error {
	if err := os.Remove(recordPath(prefix)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove lab record: %w", err)
	}
	return nil
}

// nsID returns the nsfs device and inode of the namespace file of the named namespace.
func nsID(name string) (dev, ino uint64, err error) {
	var st unix.Stat_t
	if err := unix.Stat(nsutil.NamedPath(name), &st); err != nil {
		return 0, 0, fmt.Errorf("stat netns %s: %w", name, err)
	}
	return st.Dev, st.Ino, nil
}

// handleID returns the nsfs device and inode of an open namespace.
func handleID(h netns.NsHandle) (dev, ino uint64, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(h), &st); err != nil {
		return 0, 0, fmt.Errorf("stat netns fd: %w", err)
	}
	return st.Dev, st.Ino, nil
}

// owns reports whether the namespace called n.Name now is the one the record names.
func (n recordNS) owns() (bool, error) {
	dev, ino, err := nsID(n.Name)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return dev == n.Dev && ino == n.Inode, nil
}
