package deploy

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The capabilities netctl serve needs, and no other (docs/deploy.md#capabilities).
var wantCaps = []string{"CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON", "CAP_SYS_ADMIN"}

// unit is a parsed systemd unit file: section → key → values, in order (a key may repeat).
type unit map[string]map[string][]string

// parseUnit reads a unit file strictly: every line is a comment, a [Section] or a
// Key=Value inside a section, and the key is one this package knows for that section (a
// typo that systemd would only warn about fails here). Backslash continuations join.
func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	n, pending := 0, ""
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		if pending == "" && (l == "" || l[0] == '#' || l[0] == ';') {
			continue
		}
		if c, ok := strings.CutSuffix(l, `\`); ok {
			pending += c + " "
			continue
		}
		l, pending = pending+l, ""
		if strings.HasPrefix(l, "[") {
			if !strings.HasSuffix(l, "]") {
				t.Fatalf("%s:%d: bad section header %q", path, n, l)
			}
			section = l[1 : len(l)-1]
			if _, known := knownKeys[section]; !known {
				t.Fatalf("%s:%d: unknown section [%s]", path, n, section)
			}
			u[section] = map[string][]string{}
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || section == "" {
			t.Fatalf("%s:%d: want Key=Value inside a section, got %q", path, n, l)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !slices.Contains(knownKeys[section], k) {
			t.Errorf("%s:%d: unknown key %s in [%s]", path, n, k, section)
		}
		u[section][k] = append(u[section][k], v)
	}
	if pending != "" {
		t.Fatalf("%s: ends in a continuation", path)
	}
	return u
}

// knownKeys are the keys the units may use: those systemd.unit(5), systemd.service(5),
// systemd.exec(5), systemd.kill(5), systemd.socket(5) document that these units need.
var knownKeys = map[string][]string{
	"Unit": {"Description", "Documentation", "After", "Before", "Wants", "Requires",
		"RequiresMountsFor", "ConditionPathExists", "StartLimitIntervalSec", "StartLimitBurst"},
	"Service": {"Type", "EnvironmentFile", "Environment", "ExecStartPre", "ExecStart",
		"KillSignal", "TimeoutStopSec", "Restart", "RestartSec", "User", "Group",
		"CapabilityBoundingSet", "AmbientCapabilities", "NoNewPrivileges", "LimitMEMLOCK",
		"ProtectSystem", "ReadWritePaths", "RuntimeDirectory", "RuntimeDirectoryPreserve",
		"RuntimeDirectoryMode", "ProtectHome", "PrivateTmp", "PrivateDevices",
		"ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock",
		"ProtectHostname", "RestrictNamespaces", "RestrictAddressFamilies", "RestrictRealtime",
		"RestrictSUIDSGID", "LockPersonality", "MemoryDenyWriteExecute",
		"SystemCallArchitectures", "UMask"},
	"Socket":  {"ListenStream", "Service", "Accept", "BindIPv6Only"},
	"Install": {"WantedBy", "Also"},
}

// one returns the single value of key, failing when it is missing or repeated.
func (u unit) one(t *testing.T, section, key string) string {
	t.Helper()
	v := u[section][key]
	if len(v) != 1 {
		t.Errorf("[%s] %s: want exactly one, got %q", section, key, v)
		return ""
	}
	return v[0]
}

// words returns every value of key, split into words (systemd's list settings).
func (u unit) words(section, key string) []string {
	var w []string
	for _, v := range u[section][key] {
		w = append(w, strings.Fields(v)...)
	}
	return w
}

func sortedEqual(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestServiceUnit(t *testing.T) {
	u := parseUnit(t, serviceFile)

	exec := strings.Fields(u.one(t, "Service", "ExecStart"))
	if len(exec) < 2 || exec[0] != "/usr/local/bin/netctl" || exec[1] != "serve" {
		t.Errorf("ExecStart = %q, want /usr/local/bin/netctl serve …", exec)
	}

	// Exactly the four capabilities, in both sets; no privileged escape hatch.
	for _, k := range []string{"CapabilityBoundingSet", "AmbientCapabilities"} {
		if got := u.words("Service", k); !sortedEqual(got, wantCaps) {
			t.Errorf("%s = %v, want exactly %v", k, got, wantCaps)
		}
	}
	// Each capability says why, in a comment of its own.
	b, _ := os.ReadFile(serviceFile)
	for _, c := range wantCaps {
		if !regexp.MustCompile(`(?m)^#\s+` + c + `\s+\S`).Match(b) {
			t.Errorf("no comment line saying why %s is needed", c)
		}
	}

	for k, want := range map[string]string{
		"NoNewPrivileges":          "yes",
		"ProtectSystem":            "strict",
		"ProtectHome":              "yes",
		"PrivateTmp":               "yes",
		"Restart":                  "on-failure",
		"User":                     "root",
		"RuntimeDirectory":         "netctl",
		"RuntimeDirectoryPreserve": "yes", // the CLI reads /run/netctl after serve stops
		"RestrictNamespaces":       "net",
	} {
		if got := u.one(t, "Service", k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if u.one(t, "Service", "RestartSec") == "" {
		t.Error("RestartSec empty")
	}
	if got := u.words("Service", "ReadWritePaths"); !sortedEqual(got, []string{"/sys/fs/bpf", "/run/netctl"}) {
		t.Errorf("ReadWritePaths = %v, want /sys/fs/bpf /run/netctl", got)
	}
	for _, k := range []string{"PrivateNetwork", "DynamicUser", "ProtectKernelTunables"} {
		if _, ok := u["Service"][k]; ok {
			t.Errorf("%s set: netctl needs the host's network namespace, root's files and a writable /sys/fs/bpf", k)
		}
	}

	// bpffs: after its mount unit where there is one, mounted by ExecStartPre where not.
	if !slices.Contains(u.words("Unit", "RequiresMountsFor"), "/sys/fs/bpf") {
		t.Error("no RequiresMountsFor=/sys/fs/bpf")
	}
	pre := u.one(t, "Service", "ExecStartPre")
	if !strings.HasPrefix(pre, "+") || !strings.Contains(pre, "mount -t bpf") || !strings.Contains(pre, "/sys/fs/bpf") {
		t.Errorf("ExecStartPre = %q, want a privileged (+) mount -t bpf … /sys/fs/bpf", pre)
	}
	if got := u.one(t, "Install", "WantedBy"); got != "multi-user.target" {
		t.Errorf("WantedBy = %q", got)
	}
}

func TestSocketUnit(t *testing.T) {
	u := parseUnit(t, socketFile)
	if got, want := u.one(t, "Socket", "ListenStream"), defaultPort(t); got != want {
		t.Errorf("ListenStream = %q, want serve's default port %s", got, want)
	}
	if got := u.one(t, "Socket", "Service"); got != filepath.Base(serviceFile) {
		t.Errorf("Service = %q, want %s", got, filepath.Base(serviceFile))
	}
}

// systemd's own checks, where systemd is installed: systemd-analyze verify must print
// nothing (it exits 0 on unknown keys and bad values, so its output is what counts), and
// the offline security analysis must rate the service's exposure 5.0 or better.
func TestSystemdAnalyze(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed; TestServiceUnit's own parser still checks the unit")
	}
	// verify checks that ExecStart's binary exists: point it at one that does.
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := os.ReadFile(serviceFile)
	if err != nil {
		t.Fatal(err)
	}
	svc = bytes.ReplaceAll(svc, []byte("/usr/local/bin/netctl"), []byte(self))
	if err := os.WriteFile(filepath.Join(dir, "netctl.service"), svc, 0o644); err != nil {
		t.Fatal(err)
	}
	sock, err := os.ReadFile(socketFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "netctl.socket"), sock, 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(sa, "verify", "./netctl.service", "./netctl.socket")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	cmd = exec.Command(sa, "security", "--offline=yes", "--threshold=50", "./netctl.service")
	cmd.Dir = dir
	out, err = cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "--offline") || strings.Contains(string(out), "--threshold") {
			t.Skipf("this systemd-analyze has no offline security analysis: %s", out)
		}
		t.Errorf("systemd-analyze security: exposure over 5.0 (%v)\n%s", err, out)
	}
}
