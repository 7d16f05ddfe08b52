package doctor

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

func TestParseKernelRelease(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    KernelVersion
		wantErr bool
	}{
		{"6.18.44-fc-v782", KernelVersion{6, 18, 44}, false},
		{"5.15.0-91-generic", KernelVersion{5, 15, 0}, false},
		{"6.6", KernelVersion{6, 6, 0}, false},
		{"6.1.0+", KernelVersion{6, 1, 0}, false},
		{"garbage", KernelVersion{}, true},
		{"", KernelVersion{}, true},
	} {
		got, err := ParseKernelRelease(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseKernelRelease(%q) = %v, %v; want %v, err=%v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestKernelCheck(t *testing.T) {
	for _, tc := range []struct {
		rel    string
		status Status
		tcx    bool // detail mentions the fallback
	}{
		{"6.18.44-fc", OK, false},
		{"6.6.0", OK, false},
		{"6.5.9", OK, true},
		{"6.1.0-57-cloud-amd64", OK, true},
		{"5.15.0-91-generic", OK, true},
		{"5.14.0", OK, true},
		{"5.13.19", Fail, false},
		{"5.10.0", Fail, false},
		{"5.4.0", Fail, false},
		{"x", Fail, false},
	} {
		c := KernelCheck(tc.rel)
		if c.Status != tc.status {
			t.Errorf("KernelCheck(%q).Status = %s, want %s (%s)", tc.rel, c.Status, tc.status, c.Detail)
		}
		if got := strings.Contains(c.Detail, "fallback"); got != tc.tcx {
			t.Errorf("KernelCheck(%q) detail %q: mentions fallback = %v, want %v", tc.rel, c.Detail, got, tc.tcx)
		}
		if c.Status == Fail && c.Fix == "" {
			t.Errorf("KernelCheck(%q) fails without a fix", tc.rel)
		}
	}
}

// A kernel without TCX passes with the fallback named; other attach errors fail.
func TestAttachCheck(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status Status
		detail string
	}{
		{nil, OK, "attach uses TCX"},
		{fmt.Errorf("check tcx on check0: attach tcx ingress on ifindex 3: %w", ebpf.ErrNotSupported), OK, "tc (clsact) fallback will be used"},
		{errors.New("check tcx: netlink handle in netns x: protocol not supported"), Fail, "protocol not supported"},
	} {
		c := AttachCheck(tc.err)
		if c.Status != tc.status || !c.Required || !strings.Contains(c.Detail, tc.detail) {
			t.Errorf("AttachCheck(%v) = %+v, want %s with %q", tc.err, c, tc.status, tc.detail)
		}
		if c.Status == Fail && c.Fix == "" {
			t.Errorf("AttachCheck(%v) fails without a fix", tc.err)
		}
	}
}

// A verifier refusal fails with its first line only (the log can be long).
func TestProgramsCheck(t *testing.T) {
	if c := ProgramsCheck(nil); c.Status != OK || !c.Required {
		t.Errorf("ProgramsCheck(nil) = %+v", c)
	}
	c := ProgramsCheck(errors.New("load program: permission denied:\n\t0: (bf) r0 = r2\n\tR2 !read_ok"))
	if c.Status != Fail || c.Detail != "load program: permission denied:" || !strings.Contains(c.Fix, "5.14") {
		t.Errorf("ProgramsCheck(verifier error) = %+v", c)
	}
}

func TestParseCapEff(t *testing.T) {
	status := "Name:\tnetctl\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n"
	got, err := ParseCapEff(status)
	if err != nil || got != 0x1ffffffffff {
		t.Fatalf("ParseCapEff = %#x, %v", got, err)
	}
	if _, err := ParseCapEff("Name:\tx\n"); err == nil {
		t.Error("ParseCapEff without CapEff: no error")
	}
	if _, err := ParseCapEff("CapEff:\tzz\n"); err == nil {
		t.Error("ParseCapEff with bad hex: no error")
	}
}

func TestCapabilityChecks(t *testing.T) {
	all := uint64(1<<CapBPF | 1<<CapNetAdmin | 1<<CapPerfmon | 1<<CapSysAdmin)
	for _, c := range CapabilityChecks(all) {
		if c.Status != OK {
			t.Errorf("%s with all capabilities: %s", c.Name, c.Status)
		}
	}
	// CAP_SYS_ADMIN covers CAP_PERFMON and CAP_BPF.
	for _, c := range CapabilityChecks(all &^ (1<<CapPerfmon | 1<<CapBPF)) {
		if c.Status != OK {
			t.Errorf("%s with CAP_SYS_ADMIN: %s", c.Name, c.Status)
		}
	}
	checks := CapabilityChecks(all &^ (1<<CapPerfmon | 1<<CapSysAdmin))
	if len(checks) != 4 {
		t.Fatalf("got %d checks, want 4", len(checks))
	}
	for _, c := range checks {
		want := OK
		if c.Name == "CAP_PERFMON" || c.Name == "CAP_SYS_ADMIN" {
			want = Fail
		}
		if c.Status != want {
			t.Errorf("%s: %s, want %s", c.Name, c.Status, want)
		}
		if c.Status == Fail && c.Fix == "" {
			t.Errorf("%s fails without a fix", c.Name)
		}
	}
	if NewReport(checks).OK {
		t.Error("report with a missing required capability is OK")
	}
	if !NewReport(CapabilityChecks(all)).OK {
		t.Error("report with every capability is not OK")
	}
}

func TestNewReportIgnoresOptional(t *testing.T) {
	r := NewReport([]Check{{Name: "a", Required: true, Status: OK}, {Name: "Docker", Status: Fail}})
	if !r.OK {
		t.Error("an optional failure made the report fail")
	}
}

func TestBPFFSMounted(t *testing.T) {
	mi := `22 28 0:21 / /sys rw,nosuid shared:7 - sysfs sysfs rw
35 22 0:30 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:14 - bpf bpf rw,mode=700
36 22 0:31 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw`
	if !BPFFSMounted(mi, "/sys/fs/bpf") {
		t.Error("bpffs at /sys/fs/bpf not found")
	}
	if BPFFSMounted(mi, "/mnt/bpf") {
		t.Error("bpffs found at /mnt/bpf")
	}
	notBPF := `35 22 0:30 / /sys/fs/bpf rw shared:14 - tmpfs tmpfs rw`
	if BPFFSMounted(notBPF, "/sys/fs/bpf") {
		t.Error("tmpfs at /sys/fs/bpf taken for bpffs")
	}
}

func TestDockerHost(t *testing.T) {
	for _, tc := range []struct {
		env, want string
		wantErr   bool
	}{
		{"", "/var/run/docker.sock", false},
		{"unix:///run/user/1000/docker.sock", "/run/user/1000/docker.sock", false},
		{"tcp://10.0.0.1:2375", "", true},
		{"unix://", "", true},
	} {
		got, err := DockerHost(tc.env)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("DockerHost(%q) = %q, %v", tc.env, got, err)
		}
	}
}

func TestEngineVersion(t *testing.T) {
	if got := engineVersion([]byte(`{"Platform":{"Name":""},"Version":"20.10.24+dfsg1","ApiVersion":"1.41"}`)); got != "engine 20.10.24+dfsg1" {
		t.Errorf("engineVersion = %q", got)
	}
	if got := engineVersion([]byte(`not json`)); got != "version unknown" {
		t.Errorf("engineVersion(bad) = %q", got)
	}
}
