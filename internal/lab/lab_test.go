//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/netctl/netctl/internal/nlutil"
	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
)

// newPrefix returns a prefix no other test or process uses and a record folder of the
// test's own, for tests that run Up themselves, and makes sure the lab is removed when
// the test ends, even if it fails.
func newPrefix(t *testing.T) (dir, prefix string) {
	t.Helper()
	nstest.RequireRoot(t)
	dir, prefix = t.TempDir(), nstest.UniqueName("lt")
	t.Cleanup(func() {
		if _, err := Down(dir, prefix); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if left := labNamespaces(t, prefix); len(left) > 0 {
			t.Errorf("cleanup: namespaces left behind: %v", left)
		}
	})
	return dir, prefix
}

// netnsList is `ip netns list`, names only.
func netnsList(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var names []string
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	slices.Sort(names)
	return names
}

// labNamespaces lists the namespaces named like the lab's.
func labNamespaces(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	for _, n := range netnsList(t) {
		if strings.HasPrefix(n, prefix+"-") {
			out = append(out, n)
		}
	}
	return out
}

// rootLinks is the link list of the test's own (root) namespace: names and indexes,
// less the Docker engine's own (dockerLink): other test packages start and remove
// containers meanwhile, and their ports come and go there.
func rootLinks(t *testing.T) []string {
	t.Helper()
	links, err := nlutil.Dump(netlink.LinkList)
	if err != nil {
		t.Fatalf("list root links: %v", err)
	}
	var out []string
	for _, l := range links {
		if !dockerLink.MatchString(l.Attrs().Name) {
			out = append(out, fmt.Sprintf("%d:%s", l.Attrs().Index, l.Attrs().Name))
		}
	}
	slices.Sort(out)
	return out
}

// dockerLink matches the names the Docker engine gives a container's host-side veth
// (veth and 7 hex digits) and a user-defined network's bridge (br- and 12).
var dockerLink = regexp.MustCompile(`^(veth[0-9a-f]{7}|br-[0-9a-f]{12})$`)

func recordExists(dir, prefix string) bool {
	_, err := os.Stat(recordPath(dir, prefix))
	return err == nil
}

// assertGone checks that nothing of the lab is left: no namespace of its prefix, no
// record, and the root namespace's links exactly as before.
func assertGone(t *testing.T, dir, prefix string, linksBefore []string) {
	t.Helper()
	if left := labNamespaces(t, prefix); len(left) > 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
	if recordExists(dir, prefix) {
		t.Errorf("record %s left behind", recordPath(dir, prefix))
	}
	if after := rootLinks(t); !slices.Equal(after, linksBefore) {
		t.Errorf("root namespace links changed:\nbefore %v\nafter  %v", linksBefore, after)
	}
}

// Down removes the lab's namespaces and no other (other test packages make and remove
// their own at the same time, so the global list is compared by what must be in it),
// and restores the root namespace's links exactly; a second Down is a no-op.
func TestDownRestoresEverything(t *testing.T) {
	dir, prefix := newPrefix(t)
	sentinel := nstest.NewNS(t) // someone else's namespace: down must leave it
	linksBefore := rootLinks(t)
	l, err := Up(context.Background(), Options{Prefix: prefix, IPv6: true, Dir: dir})
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if got := labNamespaces(t, prefix); len(got) != 4 {
		t.Errorf("after up: lab namespaces %v, want 4", got)
	}
	if !recordExists(dir, prefix) {
		t.Errorf("after up: no record at %s", recordPath(dir, prefix))
	}
	if after := rootLinks(t); !slices.Equal(after, linksBefore) {
		t.Errorf("up changed the root namespace's links:\nbefore %v\nafter  %v", linksBefore, after)
	}
	l.Close()
	removed, err := Down(dir, prefix)
	if err != nil || !removed {
		t.Fatalf("down = %v, %v; want true, nil", removed, err)
	}
	if left := labNamespaces(t, prefix); len(left) > 0 {
		t.Errorf("down left the lab's namespaces %v", left)
	}
	if !slices.Contains(netnsList(t), sentinel.Name) {
		t.Errorf("down removed %s, a namespace the lab did not make", sentinel.Name)
	}
	assertGone(t, dir, prefix, linksBefore)
	removed, err = Down(dir, prefix)
	if err != nil || removed {
		t.Errorf("second down = %v, %v; want false, nil", removed, err)
	}
	if _, err := Status(dir, prefix); !errors.Is(err, ErrNoLab) {
		t.Errorf("status after down: %v, want ErrNoLab", err)
	}
}

// Down removes only the namespaces Up made: one that was replaced by a user's namespace
// of the same name stays.
func TestDownLeavesForeignNamespace(t *testing.T) {
	t.Parallel()
	dir, prefix := newPrefix(t)
	l, err := Up(context.Background(), Options{Prefix: prefix, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	name := NamespaceName(prefix, RoleOutside)
	if err := nsutil.DeleteNamed(name); err != nil {
		t.Fatal(err)
	}
	h, err := nsutil.CreateNamed(name) // the user's own namespace, same name
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	t.Cleanup(func() { _ = nsutil.DeleteNamed(name) })
	if _, err := Open(dir, prefix); err == nil || !strings.Contains(err.Error(), "not the one 'lab up' made") {
		t.Errorf("open with a replaced namespace: %v", err)
	}
	if removed, err := Down(dir, prefix); err != nil || !removed {
		t.Fatalf("down = %v, %v", removed, err)
	}
	if got := labNamespaces(t, prefix); !slices.Equal(got, []string{name}) {
		t.Errorf("after down: %v, want only the user's %s", got, name)
	}
	now, err := nsutil.OpenNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	defer now.Close()
	if !now.Equal(h) {
		t.Error("the user's namespace was replaced")
	}
}

// Up refuses a prefix whose namespace name is taken by someone else, and changes nothing.
func TestUpRefusesTakenName(t *testing.T) {
	t.Parallel()
	dir, prefix := newPrefix(t)
	name := NamespaceName(prefix, RoleContainer2)
	h, err := nsutil.CreateNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	t.Cleanup(func() { _ = nsutil.DeleteNamed(name) })
	_, err = Up(context.Background(), Options{Prefix: prefix, Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "netns "+name+" already exists") {
		t.Fatalf("up over a taken name: %v", err)
	}
	if got := labNamespaces(t, prefix); !slices.Equal(got, []string{name}) {
		t.Errorf("after failed up: %v, want only %s", got, name)
	}
	if recordExists(dir, prefix) {
		t.Error("failed up left its record")
	}
	if removed, err := Down(dir, prefix); removed || err != nil {
		t.Errorf("down after failed up = %v, %v; want false, nil", removed, err)
	}
	if !nsutil.Exists(name) {
		t.Error("down removed the user's namespace")
	}
}

// A failure at any point of Up leaves nothing behind and names the failing step.
// Not parallel: it compares the root namespace's links.
func TestUpFailureRollsBack(t *testing.T) {
	nstest.RequireRoot(t)
	s, _ := NewSpec("x", false)
	steps := plan(s)
	vethC2 := slices.IndexFunc(steps, func(st step) bool { return strings.HasSuffix(st.cmd, "type veth peer name eth0 netns x-container2") })
	for _, tc := range []struct {
		name string
		at   int
	}{
		{"first sysctl", 1},
		{"second veth", vethC2},
		{"last route", len(steps) - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, prefix := newPrefix(t)
			linksBefore := rootLinks(t)
			hook := func(i int, st step) error {
				if i == tc.at {
					return errors.New("injected failure")
				}
				return nil
			}
			_, err := Up(context.Background(), Options{Prefix: prefix, Dir: dir, beforeStep: hook})
			wantStep := fmt.Sprintf("step %d/%d (%s)", tc.at+1, len(steps), plan(mustSpec(t, prefix))[tc.at].cmd)
			if err == nil || !strings.Contains(err.Error(), wantStep) || !strings.Contains(err.Error(), "injected failure") {
				t.Fatalf("up: %v, want the error to name %q", err, wantStep)
			}
			assertGone(t, dir, prefix, linksBefore)
		})
	}
	// A real kernel failure: the outside namespace's name gets taken while Up runs.
	t.Run("name taken during up", func(t *testing.T) {
		dir, prefix := newPrefix(t)
		linksBefore := rootLinks(t)
		name := NamespaceName(prefix, RoleOutside)
		t.Cleanup(func() { _ = nsutil.DeleteNamed(name) })
		hook := func(_ int, st step) error {
			if st.cmd == "ip netns add "+name {
				h, err := nsutil.CreateNamed(name)
				if err != nil {
					return err
				}
				h.Close()
			}
			return nil
		}
		_, err := Up(context.Background(), Options{Prefix: prefix, Dir: dir, beforeStep: hook})
		if err == nil || !strings.Contains(err.Error(), "ip netns add "+name) || !errors.Is(err, os.ErrExist) {
			t.Fatalf("up: %v, want a failed 'ip netns add %s'", err, name)
		}
		if got := labNamespaces(t, prefix); !slices.Equal(got, []string{name}) {
			t.Errorf("after failed up: %v, want only the intruder %s", got, name)
		}
		if err := nsutil.DeleteNamed(name); err != nil {
			t.Fatal(err)
		}
		assertGone(t, dir, prefix, linksBefore)
	})
	// A cancelled context stops Up before the next step and undoes the rest.
	t.Run("cancelled", func(t *testing.T) {
		dir, prefix := newPrefix(t)
		linksBefore := rootLinks(t)
		ctx, cancel := context.WithCancel(context.Background())
		hook := func(i int, _ step) error {
			if i == 5 {
				cancel()
			}
			return nil
		}
		_, err := Up(ctx, Options{Prefix: prefix, Dir: dir, beforeStep: hook})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("up: %v, want context.Canceled", err)
		}
		assertGone(t, dir, prefix, linksBefore)
	})
}

func mustSpec(t *testing.T, prefix string) Spec {
	t.Helper()
	s, err := NewSpec(prefix, false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStatusMissingLab(t *testing.T) {
	t.Parallel()
	dir, prefix := newPrefix(t)
	_, err := Status(dir, prefix)
	if !errors.Is(err, ErrNoLab) || !strings.Contains(err.Error(), "netctl lab up --prefix "+prefix) {
		t.Errorf("status of a missing lab: %v", err)
	}
	if _, err := Status(dir, "bad/prefix"); err == nil || !strings.Contains(err.Error(), "'/'") {
		t.Errorf("status of an invalid prefix: %v", err)
	}
	if _, err := Down(dir, "bad/prefix"); err == nil {
		t.Error("down of an invalid prefix succeeded")
	}
	if _, err := Up(context.Background(), Options{Prefix: "-x", Dir: dir}); err == nil {
		t.Error("up of an invalid prefix succeeded")
	}
}
