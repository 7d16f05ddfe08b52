package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Probes are the checks that need the kernel; Gather takes them as functions so the
// command can pass the real probes from package probe.
type Probes struct {
	Load func() error // load netctl's tc programs and maps, then release them
	TCX  func() error // a real TCX attach in a scratch namespace
}

// Gather runs every check on this machine.
func Gather(ctx context.Context, p Probes) Report {
	var checks []Check

	var uts unix.Utsname
	rel := "unknown"
	if err := unix.Uname(&uts); err == nil {
		rel = unix.ByteSliceToString(uts.Release[:])
	}
	checks = append(checks, KernelCheck(rel))

	btf := Check{Name: "BTF", Required: true, Status: OK, Detail: "/sys/kernel/btf/vmlinux present"}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		btf.Status, btf.Detail = Fail, "/sys/kernel/btf/vmlinux: "+err.Error()
		btf.Fix = "use a kernel built with CONFIG_DEBUG_INFO_BTF=y"
	}
	checks = append(checks, btf)

	mi, err := os.ReadFile("/proc/self/mountinfo")
	fs := Check{Name: "bpffs", Required: true, Status: OK, Detail: "bpf filesystem mounted at /sys/fs/bpf"}
	if err != nil || !BPFFSMounted(string(mi), "/sys/fs/bpf") {
		fs.Status, fs.Detail = Fail, "/sys/fs/bpf is not a bpf filesystem: counters cannot be pinned"
		fs.Fix = "mount -t bpf bpf /sys/fs/bpf (make setup does it)"
	}
	checks = append(checks, fs)

	st, err := os.ReadFile("/proc/self/status")
	capEff, perr := ParseCapEff(string(st))
	if err != nil || perr != nil {
		checks = append(checks, Check{Name: "capabilities", Required: true, Status: Fail,
			Detail: fmt.Sprintf("cannot read capabilities: %v", firstErr(err, perr))})
	} else {
		checks = append(checks, CapabilityChecks(capEff)...)
	}

	loadErr := errors.New("no probe available")
	if p.Load != nil {
		loadErr = p.Load()
	}
	checks = append(checks, ProgramsCheck(loadErr))

	switch {
	case loadErr != nil:
		checks = append(checks, Check{Name: "TCX attach", Required: true, Status: Fail,
			Detail: "not tried: the programs did not load"})
	case p.TCX == nil:
		checks = append(checks, AttachCheck(errors.New("no probe available")))
	default:
		checks = append(checks, AttachCheck(p.TCX()))
	}

	checks = append(checks, dockerCheck(ctx))
	return NewReport(checks)
}

func dockerCheck(ctx context.Context) Check {
	c := Check{Name: "Docker", Required: false}
	sock, err := DockerHost(os.Getenv("DOCKER_HOST"))
	if err != nil {
		c.Status, c.Detail = Fail, err.Error()
		c.Fix = "set DOCKER_HOST=unix:///path/to/docker.sock"
		return c
	}
	client := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}},
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/version", nil)
	resp, err := client.Do(req)
	if err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("engine API at %s: %v", sock, err)
		c.Fix = "optional: start the Docker Engine for docker:NAME references and container names (netns: and pid: references work without it)"
		return c
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		c.Status, c.Detail = Fail, fmt.Sprintf("engine API at %s answered %s", sock, resp.Status)
		return c
	}
	c.Status, c.Detail = OK, fmt.Sprintf("engine API at %s reachable (%s)", sock, engineVersion(body))
	return c
}

// engineVersion reads "Version" from the Engine API's /version answer.
func engineVersion(body []byte) string {
	var v struct{ Version string }
	if json.Unmarshal(body, &v) != nil || v.Version == "" {
		return "version unknown"
	}
	return "engine " + v.Version
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
