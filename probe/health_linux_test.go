//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Check finds each way a datapath stops counting, in both attach modes; Reload and an
// attach repair it, adopting what counts into the pinned maps and replacing netctl's
// programs that count into maps no longer pinned.
func TestCheckAndReload(t *testing.T) {
	for _, mode := range []Mode{ModeTCX, ModeTC} {
		t.Run(string(mode), func(t *testing.T) {
			l, opts := dpLab(t)
			opts = withMode(opts, mode)
			ctx := context.Background()
			dp, err := Open(l.Host.NS, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer dp.Close()
			if _, err := dp.AttachBridge(ctx, "docker0"); err != nil {
				skipIfNoTCX(t, err)
				t.Fatal(err)
			}
			if err := dp.Check(); err != nil {
				t.Fatalf("Check after attach: %v", err)
			}
			repair := func(what string, wantChanged bool, wantAdopted func(ifindex int) bool) {
				t.Helper()
				changed, err := dp.Reload()
				if err != nil || changed != wantChanged {
					t.Fatalf("%s: Reload: changed %v, %v; want changed %v", what, changed, err, wantChanged)
				}
				at, err := dp.AttachBridge(ctx, "docker0")
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range at {
					if want := wantAdopted(a.Ifindex); a.Adopted != want {
						t.Errorf("%s: %s adopted %v, want %v", what, a.HostInterface, a.Adopted, want)
					}
				}
				if err := dp.Check(); err != nil {
					t.Fatalf("%s: Check after the repair: %v", what, err)
				}
			}

			// Detached: pins and programs gone.
			if _, err := Detach(l.Host.NS, opts); err != nil {
				t.Fatal(err)
			}
			if err := dp.Check(); !errors.Is(err, ErrNotCounting) {
				t.Fatalf("Check after a detach: %v", err)
			}
			none := func(int) bool { return false }
			all := func(int) bool { return true }
			repair("detached", true, none)

			// Detached and attached by another: other maps pinned, its programs on the
			// ports. They are adopted.
			if _, err := Detach(l.Host.NS, opts); err != nil {
				t.Fatal(err)
			}
			other, err := Open(l.Host.NS, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.AttachBridge(ctx, "docker0"); err != nil {
				t.Fatal(err)
			}
			other.Close()
			if err := dp.Check(); err == nil || !strings.Contains(err.Error(), "another map") {
				t.Fatalf("Check after another attach: %v", err)
			}
			repair("replaced", true, all)

			// The maps unpinned, the programs left: new maps, and the programs that count
			// into the old ones replaced.
			if err := os.RemoveAll(filepath.Join(opts.pinDir(dp.hostCookie), mapsSubdir)); err != nil {
				t.Fatal(err)
			}
			repair("maps unpinned", true, none)

			// The same maps, one port's programs removed.
			var port setIfindex
			for k := range dp.attached {
				port = k
			}
			if err := dp.unattach(dp.sets[0], port.ifindex, mode); err != nil {
				t.Fatal(err)
			}
			if err := dp.Check(); err == nil || !strings.Contains(err.Error(), "carries no programs") {
				t.Fatalf("Check after a port lost its programs: %v", err)
			}
			repair("one port", false, func(ifindex int) bool { return ifindex != port.ifindex })
		})
	}
}
