//go:build linux

package netctl

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/docker"

	"github.com/netctl/netctl/internal/nstest"
)

func requireDocker(t *testing.T) { nstest.RequireDocker(t) }

func dockerRun(t *testing.T, start bool, extra ...string) string {
	return nstest.DockerRun(t, start, extra...)
}

func TestResolveDocker(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	name := dockerRun(t, true, "--network", "none")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := docker.NewClient("/var/run/docker.sock").Inspect(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"docker:" + name, "docker:" + d.ID[:12], name} {
		r, err := ParseRef(ref, func(string) bool { return false })
		if err != nil {
			t.Fatal(err)
		}
		c, err := Resolve(ctx, r)
		if err != nil {
			t.Fatalf("Resolve(%s): %v", ref, err)
		}
		want, err := os.Stat("/proc/" + strconv.Itoa(d.State.Pid) + "/ns/net")
		if err != nil {
			t.Fatal(err)
		}
		if c.Label != name || c.Inode != statIno(want) {
			t.Errorf("Resolve(%s) = %s inode %d, want %s inode %d", ref, c.Label, c.Inode, name, statIno(want))
		}
		c.Close()
	}

	stopped := dockerRun(t, false)
	if _, err := Resolve(ctx, Ref{RefDocker, stopped}); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("stopped container: %v", err)
	}
	hostNet := dockerRun(t, true, "--network", "host")
	if _, err := Resolve(ctx, Ref{RefDocker, hostNet}); err == nil || !strings.Contains(err.Error(), "host's network namespace") {
		t.Errorf("--network host container: %v", err)
	}
	shared := dockerRun(t, true, "--network", "container:"+name)
	if _, err := Resolve(ctx, Ref{RefDocker, shared}); err == nil || !strings.Contains(err.Error(), "shares the network namespace") {
		t.Errorf("--network container: container: %v", err)
	}
	if _, err := Resolve(ctx, Ref{RefDocker, "netctl-test-no-such"}); err == nil || !strings.Contains(err.Error(), "no such container") {
		t.Errorf("unknown container: %v", err)
	}
}

// nic add and del on a real Docker container, with the lab's host namespace as host (so
// the machine's own docker0 is never touched).
func TestNicOnDockerContainer(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	l := testLab(t, false)
	name := dockerRun(t, true, "--network", "none")
	ctx := context.Background()
	c, err := Resolve(ctx, Ref{RefDocker, name})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := docker.NewClient("/var/run/docker.sock").Inspect(ctx, name)
	nsPath := "/proc/" + strconv.Itoa(d.State.Pid) + "/ns/net"
	e, err := NewEnv(l.Host.NS, NSView{Name: l.Host.Name}, c, l.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	before := nstest.State(t, nsPath) + nstest.State(t, l.Host.Name)
	spec := Spec{Name: "eth1", Bridge: "docker0", Addresses: []netip.Prefix{netip.MustParsePrefix("172.17.0.99/16")},
		Gateway: netip.MustParseAddr("172.17.0.1"), DefaultRoute: true}
	if _, err := e.Add(spec, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "exec", name, "/bin/busybox", "ping", "-c", "2", "-W", "1", "172.17.0.2").CombinedOutput(); err != nil {
		t.Errorf("ping from the container over its new NIC: %v\n%s", err, out)
	}
	if _, err := e.Del("eth1"); err != nil {
		t.Fatal(err)
	}
	nstest.RequireSame(t, "docker container add then del", before, nstest.State(t, nsPath)+nstest.State(t, l.Host.Name))
}

func statIno(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
