package arch

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/netctl/netctl/"

// allowed lists, for each package of the module, the packages of the module its
// non-test files may import. A package missing here fails the test: add it, and add it
// to docs/architecture.md.
var allowed = map[string][]string{
	"internal/state":  {},
	"internal/nlutil": {},
	"internal/nsutil": {"internal/docker"},
	"internal/docker": {},
	"internal/arch":   {},

	"probe":                    {"internal/nsutil", "internal/nlutil", "internal/docker", "internal/state"},
	"probe/internal/benchprog": {},
	"netctl":                   {"internal/nsutil", "internal/nlutil", "internal/docker", "internal/state"},
	"internal/analysis":        {"probe", "internal/nlutil", "internal/nsutil"},
	"exporter":                 {"probe", "internal/analysis", "internal/state"},
	"internal/daemon":          {"probe", "internal/analysis", "exporter", "internal/nsutil", "internal/nlutil", "internal/state", "internal/docker", "netctl"},
	"internal/top":             {"probe", "internal/analysis"},
	"internal/doctor":          {"probe", "internal/nsutil", "internal/state", "internal/docker"},
	"internal/lab":             {"netctl", "internal/nsutil", "internal/nlutil", "internal/state"},
	"internal/lab/labtest":     {"internal/lab", "internal/nstest", "internal/nsutil"},
	"internal/flood":           {"internal/nsutil"},
	"internal/nstest":          {"internal/nsutil", "internal/nlutil", "internal/docker", "internal/state"},
	"cmd/netctl":               {"*"},
	"deploy":                   {},
}

// forbidden lists third-party packages a package must not import: the kernel stays out
// of the exporter and the analysis of Prometheus, eBPF out of the NIC package.
var forbidden = map[string][]string{
	"exporter":          {"github.com/vishvananda/netlink", "github.com/vishvananda/netns", "github.com/cilium/ebpf"},
	"internal/analysis": {"github.com/prometheus/", "github.com/cilium/ebpf"},
	"probe":             {"github.com/prometheus/"},
	"netctl":            {"github.com/cilium/ebpf", "github.com/prometheus/"},
	"internal/top":      {"github.com/prometheus/", "github.com/vishvananda/netlink"},
}

// TestImportDirection reads every package's imports with `go list` (for linux/amd64,
// where all files build) and checks them against allowed and forbidden.
func TestImportDirection(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", module+"...")
	cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=amd64")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		pkg, imports := strings.TrimPrefix(f[0], module), f[1:]
		seen++
		for _, v := range violations(pkg, imports) {
			t.Error(v)
		}
	}
	if seen < 8 {
		t.Fatalf("go list named %d packages; expected the whole module", seen)
	}
}

// violations returns what is wrong with pkg importing imports, one line each.
func violations(pkg string, imports []string) []string {
	ok, known := allowed[pkg]
	if !known {
		return []string{"package " + pkg + " is not in the import table: add it to internal/arch and docs/architecture.md"}
	}
	var out []string
	for _, imp := range imports {
		if own, isOwn := strings.CutPrefix(imp, module); isOwn {
			if own == "cmd/netctl" || !slices.Contains(ok, "*") && !slices.Contains(ok, own) {
				out = append(out, pkg+" imports "+own+": not allowed (see docs/architecture.md)")
			}
			continue
		}
		for _, bad := range forbidden[pkg] {
			if strings.HasPrefix(imp, bad) {
				out = append(out, pkg+" imports "+imp+": not allowed (see docs/architecture.md)")
			}
		}
	}
	return out
}

// TestViolations shows the check catches what it is for: an upward import, the kernel
// in the exporter, test tooling in the product, an unknown package.
func TestViolations(t *testing.T) {
	for _, tc := range []struct {
		pkg     string
		imports []string
		want    int
	}{
		{"probe", []string{module + "internal/nsutil", "github.com/cilium/ebpf"}, 0},
		{"probe", []string{module + "exporter"}, 1},
		{"exporter", []string{"github.com/vishvananda/netlink", module + "netctl"}, 2},
		{"netctl", []string{module + "internal/lab", module + "internal/nstest"}, 2},
		{"cmd/netctl", []string{module + "internal/lab", module + "probe"}, 0},
		{"internal/daemon", []string{module + "cmd/netctl"}, 1},
		{"newpkg", nil, 1},
	} {
		if got := violations(tc.pkg, tc.imports); len(got) != tc.want {
			t.Errorf("violations(%s, %v) = %q, want %d", tc.pkg, tc.imports, got, tc.want)
		}
	}
}
