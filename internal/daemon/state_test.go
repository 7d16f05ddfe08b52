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
	if want := filepath.Join(dir, "serve", "4026531840.json"); p != want {
		t.Fatalf("StatePath = %s, want %s", p, want)
	}
	if err := RemoveState(dir, 4026531840); err != nil {
		t.Errorf("RemoveState of a missing file: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	other := StatePath(dir, 7)
	for _, f := range []string{p, other} {
		if err := os.WriteFile(f, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveState(dir, 4026531840); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", p, err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another namespace's state went too: %v", err)
	}
}
