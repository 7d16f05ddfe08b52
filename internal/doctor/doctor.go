// Package doctor checks what netctl needs from the machine: the kernel (Linux 5.14 or
// newer; TCX from 6.6, the legacy tc clsact fallback below), BTF, bpffs, capabilities,
// that the tc programs load, a real TCX attach, and the Docker Engine socket. The
// parsers and the verdicts are pure functions; the few reads of /proc, /sys and sockets
// and the kernel probes are done by Gather.
package doctor

import (
	"fmt"
	"strconv"
	"strings"
)

// Status is the verdict of one check.
type Status string

// Verdicts. Only a failed required check makes the whole report fail.
const (
	OK   Status = "ok"
	Fail Status = "fail"
)

// Check is one line of the report.
type Check struct {
	Name     string `json:"name"`
	Status   Status `json:"status"`
	Required bool   `json:"required"`
	Detail   string `json:"detail"`
	Fix      string `json:"fix,omitempty"`
}

// Report is the whole doctor output.
type Report struct {
	Checks []Check `json:"checks"`
	OK     bool    `json:"ok"` // no required check failed
}

// NewReport computes the overall verdict of checks.
func NewReport(checks []Check) Report {
	ok := true
	for _, c := range checks {
		if c.Required && c.Status != OK {
			ok = false
		}
	}
	return Report{Checks: checks, OK: ok}
}

// Capability numbers from <linux/capability.h>.
const (
	CapNetAdmin = 12
	CapSysAdmin = 21
	CapPerfmon  = 38
	CapBPF      = 39
)

// capNames lists the capabilities netctl uses, in report order, with why.
var capNames = []struct {
	bit  uint
	name string
	why  string
}{
	{CapBPF, "CAP_BPF", "load programs and create maps"},
	{CapNetAdmin, "CAP_NET_ADMIN", "attach tc programs, create veths, change routes"},
	{CapPerfmon, "CAP_PERFMON", "let the verifier accept pointer arithmetic on packets"},
	{CapSysAdmin, "CAP_SYS_ADMIN", "enter other network namespaces (setns)"},
}

// ParseCapEff returns the effective capability mask from /proc/self/status text.
func ParseCapEff(status string) (uint64, error) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "CapEff:"); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("parse CapEff %q: %w", strings.TrimSpace(rest), err)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("parse /proc/self/status: no CapEff line")
}

// CapabilityChecks judges an effective capability mask, one check per capability.
// CAP_SYS_ADMIN still grants what CAP_BPF and CAP_PERFMON were split out of (Linux 5.8).
func CapabilityChecks(capEff uint64) []Check {
	out := make([]Check, 0, len(capNames))
	sysAdmin := capEff&(1<<CapSysAdmin) != 0
	for _, c := range capNames {
		ch := Check{Name: c.name, Required: true, Status: OK, Detail: "effective: " + c.why}
		if capEff&(1<<c.bit) == 0 && sysAdmin && (c.bit == CapBPF || c.bit == CapPerfmon) {
			ch.Detail = "covered by CAP_SYS_ADMIN: " + c.why
		} else if capEff&(1<<c.bit) == 0 {
			ch.Status = Fail
			ch.Detail = "missing: needed to " + c.why
			ch.Fix = "run as root, or grant it: setcap cap_bpf,cap_net_admin,cap_perfmon,cap_sys_admin+ep $(command -v netctl)"
		}
		out = append(out, ch)
	}
	return out
}

// BPFFSMounted reports whether mountinfo text shows a bpf filesystem mounted at dir.
func BPFFSMounted(mountinfo, dir string) bool {
	for _, line := range strings.Split(mountinfo, "\n") {
		// id parent major:minor root mountpoint options [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f := strings.Fields(pre)
		g := strings.Fields(post)
		if len(f) >= 5 && len(g) >= 1 && f[4] == dir && g[0] == "bpf" {
			return true
		}
	}
	return false
}

// DockerHost returns the unix socket path of the Docker Engine from a DOCKER_HOST value
// (empty means the default /var/run/docker.sock). Only unix sockets are supported.
func DockerHost(env string) (string, error) {
	if env == "" {
		return "/var/run/docker.sock", nil
	}
	if p, ok := strings.CutPrefix(env, "unix://"); ok && p != "" {
		return p, nil
	}
	return "", fmt.Errorf("DOCKER_HOST=%s: only unix:// sockets are supported", env)
}
