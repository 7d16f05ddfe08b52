//go:build linux

package nstest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/docker"
)

// DockerImage is the test image RequireDocker builds: Debian's busybox-static, FROM
// scratch, with its applets linked in /bin (so `docker exec C ip route` works as on any
// image). The tag changes with what the image holds.
const DockerImage = "netctl-test-busybox:2"

// RequireDocker skips unless the Docker Engine answers; CI machines have one. It builds,
// once, a FROM scratch image holding Debian's busybox-static (no registry is needed).
func RequireDocker(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	c, err := docker.Default()
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	if _, err := c.List(context.Background(), false); err != nil {
		t.Skipf("skipping: Docker Engine not reachable: %v", err)
	}
	if exec.Command("docker", "image", "inspect", DockerImage).Run() == nil {
		return
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("skipping: busybox-static not installed (make setup installs it)")
	}
	dir := t.TempDir()
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	df := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n" +
		"ENV PATH=/bin\nENTRYPOINT [\"/bin/busybox\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	// Test packages run in parallel: one builds, the others wait and find the image.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "netctl-test-docker-image.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if exec.Command("docker", "image", "inspect", DockerImage).Run() == nil {
		return
	}
	if out, err := exec.Command("docker", "build", "-q", "-t", DockerImage, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
}

// DockerRun starts a container that ends by itself after 5 minutes and is removed at cleanup.
func DockerRun(t testing.TB, start bool, extra ...string) string {
	t.Helper()
	name := UniqueName("netctl-test-")
	verb := []string{"run", "-d"}
	if !start {
		verb = []string{"create"}
	}
	args := append(append(append(verb, "--name", name), extra...), DockerImage, "sleep", "300")
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })
	return name
}
