//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStatePathAndRemove(t *testing.T) {
	dir := t.TempDir()
	p := StatePath(dir, 4026531840)
	if want := filepath.Join(dir, "serve", "4026531840.state"); p != want {
		t.Fatalf("StatePath = %s, want %s", p, want)
	}
	if err := RemoveState(dir, 4026531840); err != nil {
		t.Errorf("RemoveState of a missing file: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	other, old := StatePath(dir, 7), filepath.Join(dir, "serve", "4026531840.json") // an older serve's JSON
	for _, f := range []string{p, other, old} {
		if err := os.WriteFile(f, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveState(dir, 4026531840); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{p, old} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", f, err)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another namespace's state went too: %v", err)
	}
}

// PruneState removes the memories of gone namespaces only, and says so.
func TestPruneState(t *testing.T) {
	dir := t.TempDir()
	live, dead := StatePath(dir, 3), StatePath(dir, 9)
	if err := os.MkdirAll(filepath.Dir(live), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{live, dead, filepath.Join(dir, "serve", ".9.json.1.tmp")} {
		if err := os.WriteFile(f, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := PruneState(dir, func(cookie uint64, _ string) bool { return cookie == 9 })
	if err != nil || len(removed) != 1 || removed[0] != "exporter state "+dead {
		t.Fatalf("PruneState: %q, %v", removed, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live namespace's state went: %v", err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("a gone namespace's state stayed: %v", err)
	}
}
