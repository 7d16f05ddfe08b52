// Package state is the one home for where netctl keeps what outlives a process: the
// roots of its state, pin and persistent folders, the atomic file write every record
// uses, and the lock files that serialise changes (removed when released).
//
// Nothing here knows what a record means; the packages that own a record (the NIC
// records, the attach registry, the exporter's memory, the lab's record) choose its path
// under a root they are given and write it through WriteJSON.
package state

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultDir is where netctl keeps its records unless NETCTL_STATE_DIR says otherwise. It
// is under /run, so records go away with a reboot, as the namespaces they describe do.
const DefaultDir = "/run/netctl"

// DefaultPersistDir is where netctl keeps what must outlive a reboot (the NICs to put
// back when a container starts again) unless NETCTL_PERSIST_DIR says otherwise.
const DefaultPersistDir = "/var/lib/netctl"

// DefaultBPFDir is where netctl pins its maps and links unless NETCTL_BPF_DIR says
// otherwise.
const DefaultBPFDir = "/sys/fs/bpf/netctl"

// Dir returns the state root: $NETCTL_STATE_DIR, else DefaultDir.
func Dir() string { return cmp.Or(os.Getenv("NETCTL_STATE_DIR"), DefaultDir) }

// PersistDir returns the persistent root: $NETCTL_PERSIST_DIR, else DefaultPersistDir.
func PersistDir() string { return cmp.Or(os.Getenv("NETCTL_PERSIST_DIR"), DefaultPersistDir) }

// BPFDir returns the pin root: $NETCTL_BPF_DIR, else DefaultBPFDir.
func BPFDir() string { return cmp.Or(os.Getenv("NETCTL_BPF_DIR"), DefaultBPFDir) }

// WriteJSON stores v as JSON at path atomically: it writes a temporary file in the same
// folder, syncs it, and renames it over path, so a reader (or a process killed midway)
// sees either the old file or the new one, never a part. Missing folders are created
// (0700); the file gets perm.
func WriteJSON(path string, v any, perm os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return WriteFile(path, append(b, '\n'), perm)
}

// WriteFile stores b at path atomically, as WriteJSON does.
func WriteFile(path string, b []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	werr = errors.Join(werr, f.Chmod(perm), f.Sync(), f.Close())
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}

// StaleTemp is how old a temporary file of WriteFile must be for RemoveStaleTemp to
// take it for one a killed writer left: no write takes this long.
const StaleTemp = time.Minute

// RemoveStaleTemp removes the temporary files of WriteFile in dir (".NAME.*.tmp") that
// are older than StaleTemp, which writers killed midway left, and returns their paths.
func RemoveStaleTemp(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if e.IsDir() || !strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if st, err := os.Lstat(p); err == nil && time.Since(st.ModTime()) > StaleTemp && os.Remove(p) == nil {
			out = append(out, p)
		}
	}
	return out
}

// ReadJSON loads the JSON file at path into v. A missing file returns an error that
// matches os.ErrNotExist.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}
