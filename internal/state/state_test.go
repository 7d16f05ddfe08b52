package state

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteJSONRoundTripAndAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "a", "b", "rec.json")
	type rec struct{ N int }
	if err := WriteJSON(p, rec{1}, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(p, rec{2}, 0o600); err != nil {
		t.Fatal(err)
	}
	var got rec
	if err := ReadJSON(p, &got); err != nil || got.N != 2 {
		t.Fatalf("ReadJSON = %+v, %v; want N=2", got, err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, %v; want 0600", st.Mode(), err)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Fatalf("folder holds %d entries, want only the record (no temporary left)", len(ents))
	}
}

func TestReadJSONMissing(t *testing.T) {
	t.Parallel()
	var v struct{}
	if err := ReadJSON(filepath.Join(t.TempDir(), "none.json"), &v); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want os.ErrNotExist", err)
	}
}

func TestRoots(t *testing.T) {
	t.Setenv("NETCTL_STATE_DIR", "")
	t.Setenv("NETCTL_BPF_DIR", "")
	t.Setenv("NETCTL_PERSIST_DIR", "")
	if Dir() != DefaultDir || BPFDir() != DefaultBPFDir || PersistDir() != DefaultPersistDir {
		t.Fatalf("defaults: %s %s %s", Dir(), BPFDir(), PersistDir())
	}
	t.Setenv("NETCTL_STATE_DIR", "/x")
	t.Setenv("NETCTL_BPF_DIR", "/y")
	t.Setenv("NETCTL_PERSIST_DIR", "/z")
	if Dir() != "/x" || BPFDir() != "/y" || PersistDir() != "/z" {
		t.Fatalf("env: %s %s %s", Dir(), BPFDir(), PersistDir())
	}
}

func TestRemoveStaleTemp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old, fresh, rec := filepath.Join(dir, ".a.json.1.tmp"), filepath.Join(dir, ".b.json.2.tmp"), filepath.Join(dir, "a.json")
	for _, p := range []string{old, fresh, rec} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * StaleTemp)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(rec, long, long); err != nil {
		t.Fatal(err)
	}
	if got := RemoveStaleTemp(dir); len(got) != 1 || got[0] != old {
		t.Errorf("RemoveStaleTemp = %v, want [%s]", got, old)
	}
	for _, p := range []string{fresh, rec} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
}
