//go:build linux

package netctl

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/docker"
	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
)

// A Docker network's name or ID stands for its bridge; a link's own name for itself; a
// name that is neither is refused. Only reads the engine's namespace.
func TestResolveBridge(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	name := nstest.UniqueName("netctl-test-net-")
	out, err := exec.Command("docker", "network", "create", name).CombinedOutput()
	if err != nil {
		t.Fatalf("docker network create: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "network", "rm", name).Run() })
	id := strings.TrimSpace(string(out))
	self, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	nl, err := nsutil.Handle(self)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	ctx := context.Background()
	view := docker.DefaultView()
	for ref, want := range map[string]string{name: "br-" + id[:12], id[:12]: "br-" + id[:12], "br-" + id[:12]: "br-" + id[:12], "bridge": "docker0", "docker0": "docker0"} {
		if got, err := ResolveBridge(ctx, nl, ref, view); err != nil || got != want {
			t.Errorf("ResolveBridge(%s) = %q, %v; want %s", ref, got, err, want)
		}
	}
	if _, err := ResolveBridge(ctx, nl, "host", view); err == nil || !strings.Contains(err.Error(), "host driver") {
		t.Errorf("the host network: %v", err)
	}
	if _, err := ResolveBridge(ctx, nl, "netctl-no-such-net", view); err == nil || !strings.Contains(err.Error(), "bridge netctl-no-such-net not found") {
		t.Errorf("no such network: %v", err)
	}
	brs, engine := DockerBridges(ctx, nl, view)
	if !engine || !slices.Contains(brs, "docker0") || !slices.Contains(brs, "br-"+id[:12]) {
		t.Errorf("DockerBridges = %v, %v", brs, engine)
	}
}
