package doctor

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
)

// KernelVersion is a parsed kernel release such as "6.18.44-fc".
type KernelVersion struct{ Major, Minor, Patch int }

func (v KernelVersion) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v >= major.minor.
func (v KernelVersion) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// The kernels netctl supports. Below MinKernel something it uses is missing: the
// counter programs call bpf_ktime_get_coarse_ns (Linux 5.11) and `nic` keys its records
// by the namespace cookie, SO_NETNS_COOKIE (5.14). TCX arrived in 6.6; below it netctl
// attaches with a clsact qdisc and direct-action bpf filters (tc), chosen by itself.
var (
	MinKernel = KernelVersion{5, 14, 0}
	TCXKernel = KernelVersion{6, 6, 0}
)

// SupportedKernels says the same in one sentence, for help texts.
const SupportedKernels = "Linux 5.14 or newer: TCX on 6.6 and later, tc clsact below " +
	"(tested on Debian 12's 6.1 in tc mode and on 6.18 in TCX mode)"

// ParseKernelRelease parses `uname -r` output ("6.18.44-fc-v782", "5.15.0-91-generic").
func ParseKernelRelease(rel string) (KernelVersion, error) {
	num := rel
	if i := strings.IndexFunc(rel, func(r rune) bool { return r != '.' && (r < '0' || r > '9') }); i >= 0 {
		num = rel[:i]
	}
	parts := strings.Split(strings.TrimSuffix(num, "."), ".")
	if len(parts) < 2 {
		return KernelVersion{}, fmt.Errorf("parse kernel release %q: want MAJOR.MINOR[.PATCH]", rel)
	}
	var v [3]int
	for i := 0; i < len(parts) && i < 3; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return KernelVersion{}, fmt.Errorf("parse kernel release %q: %w", rel, err)
		}
		v[i] = n
	}
	return KernelVersion{v[0], v[1], v[2]}, nil
}

// KernelCheck judges the kernel release against MinKernel and says which attach mode
// the release implies (the TCX attach check says what the kernel really does).
func KernelCheck(rel string) Check {
	c := Check{Name: "kernel", Required: true}
	floor := fmt.Sprintf("%d.%d", MinKernel.Major, MinKernel.Minor)
	v, err := ParseKernelRelease(rel)
	switch {
	case err != nil:
		c.Status, c.Detail = Fail, err.Error()
		c.Fix = "netctl needs " + SupportedKernels
	case !v.AtLeast(MinKernel.Major, MinKernel.Minor):
		c.Status, c.Detail = Fail, fmt.Sprintf("Linux %s is older than %s: no bpf_ktime_get_coarse_ns (5.11) or SO_NETNS_COOKIE (5.14)", rel, floor)
		c.Fix = "upgrade the kernel: netctl needs " + SupportedKernels
	case !v.AtLeast(TCXKernel.Major, TCXKernel.Minor):
		c.Status, c.Detail = OK, fmt.Sprintf("Linux %s (≥ %s; no TCX before 6.6: counters use the legacy tc clsact fallback)", rel, floor)
	default:
		c.Status, c.Detail = OK, fmt.Sprintf("Linux %s (≥ %s; TCX available since 6.6)", rel, floor)
	}
	return c
}

// ProgramsCheck judges loading netctl's tc programs and maps: err is what the kernel's
// verifier (or map creation) said, nil when it accepted them.
func ProgramsCheck(err error) Check {
	c := Check{Name: "eBPF programs", Required: true, Status: OK,
		Detail: "netctl's tc programs and maps load: the verifier accepts them"}
	if err != nil {
		first, _, _ := strings.Cut(err.Error(), "\n")
		c.Status, c.Detail = Fail, first
		c.Fix = "netctl needs " + SupportedKernels + ", with BPF enabled (CONFIG_BPF_SYSCALL); 'netctl attach' prints the verifier's whole log"
	}
	return c
}

// AttachCheck judges a real TCX attach: TCX working means attach uses it; a kernel
// without TCX (ebpf.ErrNotSupported) is fine, netctl then attaches with tc (clsact);
// any other error fails.
func AttachCheck(tcxErr error) Check {
	c := Check{Name: "TCX attach", Required: true, Status: OK,
		Detail: "loaded a SchedCLS program and attached it with TCX to a veth in a scratch namespace: attach uses TCX"}
	switch {
	case tcxErr == nil:
	case errors.Is(tcxErr, ebpf.ErrNotSupported):
		c.Detail = "TCX unavailable on this kernel (Linux 6.6+): tc (clsact) fallback will be used"
	default:
		c.Status, c.Detail = Fail, tcxErr.Error()
		c.Fix = "TCX needs Linux 6.6, CAP_BPF and CAP_NET_ADMIN; on older kernels netctl uses tc (clsact) by itself, or force it with --attach-mode tc"
	}
	return c
}
