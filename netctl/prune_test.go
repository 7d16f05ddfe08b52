//go:build linux

package netctl

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/state"
)

// Prune removes the records of gone container namespaces, those whose host namespace
// is gone, stale locks and stale temporary files; nothing else.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	s := records{dir: dir}
	rec := func(cookie, host uint64, name string) Record {
		return Record{Plan: Plan{Spec: Spec{Name: name}, NSCookie: cookie, HostCookie: host}, Complete: true}
	}
	for _, r := range []Record{rec(3, 1, "eth1"), rec(4, 1, "eth1"), rec(5, 6, "eth1"), rec(5, 1, "eth2")} {
		if err := s.write(r); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, "nic", "3", ".eth1.json.123.tmp")
	stale := filepath.Join(dir, "lock", "3.lock")
	for _, p := range []string{tmp, stale} {
		if err := state.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * state.StaleTemp)
	if err := os.Chtimes(tmp, old, old); err != nil {
		t.Fatal(err)
	}
	removed, err := Prune(dir, func(c uint64, _ string) bool { return c == 4 || c == 6 })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"NIC record " + s.path(4, "eth1") + " (its container namespace is gone)",
		"NIC record " + s.path(5, "eth1") + " (its host namespace is gone)",
		"temporary file " + tmp,
		"lock file " + stale,
	}
	slices.Sort(removed)
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Errorf("removed\n%q\nwant\n%q", removed, want)
	}
	if n := s.names(3); !slices.Equal(n, []string{"eth1"}) {
		t.Errorf("namespace 3 keeps %v", n)
	}
	if n := s.names(5); !slices.Equal(n, []string{"eth2"}) {
		t.Errorf("namespace 5 keeps %v", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "nic", "4")); !os.IsNotExist(err) {
		t.Errorf("the folder of namespace 4 stays: %v", err)
	}
}
