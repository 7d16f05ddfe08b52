//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Prune removes the pins and registry of a gone host namespace, and in a live one the
// map set and registry entries of a gone inner namespace; nothing else.
func TestPrune(t *testing.T) {
	opts := Options{BPFDir: t.TempDir(), StateDir: t.TempDir()}
	for _, d := range []string{opts.pinDir(5), setDir(opts.pinDir(5), 8), setDir(opts.pinDir(5), 9), opts.pinDir(7)} {
		if err := os.MkdirAll(filepath.Join(d, mapsSubdir), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	live := &registry{path: opts.registryPath(5), Ports: []regPort{{Ifindex: 1, Name: "veth1"},
		{NSCookie: 8, Ifindex: 2, Name: "eth1"}, {NSCookie: 9, Ifindex: 3, Name: "eth2"}},
		Qdiscs: []regQdisc{{8, 2}, {0, 1}}}
	dead := &registry{path: opts.registryPath(7), Ports: []regPort{{Ifindex: 4, Name: "veth4"}}}
	for _, r := range []*registry{live, dead} {
		if err := r.save(); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(c uint64, _ string) bool { return c == 7 || c == 8 }
	removed, err := Prune(opts, gone)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"pins " + setDir(opts.pinDir(5), 8),
		"attach registry " + live.path + ": eth1 in namespace 8",
		"pins " + opts.pinDir(7),
		"attach registry " + dead.path,
	}
	slices.Sort(removed)
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Errorf("removed\n%q\nwant\n%q", removed, want)
	}
	for _, p := range []string{opts.pinDir(7), setDir(opts.pinDir(5), 8), dead.path} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", p, err)
		}
	}
	for _, p := range []string{opts.pinDir(5), setDir(opts.pinDir(5), 9)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	got, err := loadRegistry(live.path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Ports) != 2 || slices.ContainsFunc(got.Ports, func(p regPort) bool { return p.NSCookie == 8 }) ||
		!slices.Equal(got.Qdiscs, []regQdisc{{0, 1}}) {
		t.Errorf("live registry after Prune: %+v", got)
	}
	if again, err := Prune(opts, gone); err != nil || len(again) != 0 {
		t.Errorf("second Prune: %q, %v", again, err)
	}
}
