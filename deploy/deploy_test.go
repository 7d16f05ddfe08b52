package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/netctl/netctl/exporter"
)

const (
	rulesFile     = "prometheus/netctl-alerts.yml"
	rulesTestFile = "prometheus/netctl-alerts.test.yml"
	scrapeConfig  = "prometheus/prometheus.yml"
	serviceFile   = "systemd/netctl.service"
	socketFile    = "systemd/netctl.socket"
)

// promtool runs promtool with args in dir and fails the test, with promtool's output, on
// any error. It skips when promtool is not installed (make setup installs it).
func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus; `make setup` installs it)")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPromtoolCheckRules(t *testing.T) {
	out := promtool(t, "prometheus", "check", "rules", filepath.Base(rulesFile))
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(alertNames(t))); !strings.Contains(out, want) {
		t.Errorf("promtool check rules: want %q in\n%s", want, out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	out := promtool(t, "prometheus", "test", "rules", filepath.Base(rulesTestFile))
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules: no SUCCESS in\n%s", out)
	}
}

// The example scrape config is valid, loads the rules, and scrapes job netctl on the
// port serve listens on by default.
func TestPromtoolCheckConfig(t *testing.T) {
	out := promtool(t, "prometheus", "check", "config", filepath.Base(scrapeConfig))
	if !strings.Contains(out, "SUCCESS: 1 rule files found") {
		t.Errorf("promtool check config: the rule file is not loaded:\n%s", out)
	}
	b := readFile(t, scrapeConfig)
	if !regexp.MustCompile(`(?m)^\s*- job_name: netctl\b`).Match(b) {
		t.Errorf("%s: no job named netctl (NetctlExporterDown selects it)", scrapeConfig)
	}
	if !regexp.MustCompile(`(?m)^\s*- netctl-alerts\.yml\s*$`).Match(b) {
		t.Errorf("%s: rule_files does not name netctl-alerts.yml", scrapeConfig)
	}
	if want := "localhost:" + defaultPort(t); !bytes.Contains(b, []byte(want)) {
		t.Errorf("%s: no target %s", scrapeConfig, want)
	}
}

// Alerts follow the monitoring-mixins style: Netctl + CamelCase names, a severity of
// critical, warning or info, summary and description annotations.
func TestAlertStyle(t *testing.T) {
	names := alertNames(t)
	for _, want := range []string{"NetctlAsymmetricRouting", "NetctlExporterDown", "NetctlFlowTableFull", "NetctlPortNotObserved"} {
		if !slices.Contains(names, want) {
			t.Errorf("alert %s missing (have %v)", want, names)
		}
	}
	for name, block := range alertBlocks(t) {
		if !regexp.MustCompile(`^Netctl[A-Z][a-z]+([A-Z][a-z]+)*$`).MatchString(name) {
			t.Errorf("alert %s: want Netctl followed by CamelCase words", name)
		}
		if !regexp.MustCompile(`(?m)^\s+severity: (critical|warning|info)\s*$`).MatchString(block) {
			t.Errorf("alert %s: no severity label of critical, warning or info", name)
		}
		for _, a := range []string{"summary", "description"} {
			if !regexp.MustCompile(`(?m)^\s+` + a + `: \S`).MatchString(block) {
				t.Errorf("alert %s: no %s annotation", name, a)
			}
		}
		if !regexp.MustCompile(`(?m)^\s+for: \d+[smh]\s*$`).MatchString(block) {
			t.Errorf("alert %s: no for: duration (a single bad scrape would page)", name)
		}
	}
}

// Every alert has a promtool test where it fires and one where it stays silent.
func TestAlertsAllTested(t *testing.T) {
	fires, silent := map[string]bool{}, map[string]bool{}
	lines := strings.Split(string(readFile(t, rulesTestFile)), "\n")
	flow := regexp.MustCompile(`alertname: (\w+), exp_alerts: \[\]`)
	block := regexp.MustCompile(`^\s+alertname: (\w+)\s*$`)
	for i, l := range lines {
		if m := flow.FindStringSubmatch(l); m != nil {
			silent[m[1]] = true
			continue
		}
		m := block.FindStringSubmatch(l)
		if m == nil || i+1 >= len(lines) {
			continue
		}
		switch strings.TrimSpace(lines[i+1]) {
		case "exp_alerts: []":
			silent[m[1]] = true
		case "exp_alerts:":
			fires[m[1]] = true
		}
	}
	for _, name := range alertNames(t) {
		if !fires[name] {
			t.Errorf("%s: no test where %s fires", rulesTestFile, name)
		}
		if !silent[name] {
			t.Errorf("%s: no test where %s stays silent", rulesTestFile, name)
		}
	}
}

// The rules use only metrics the exporter describes, so a renamed metric breaks this
// test rather than silently an alert.
func TestAlertMetricsExist(t *testing.T) {
	described := describedMetrics()
	used := regexp.MustCompile(`\bnetctl_[a-z_]+\b`).FindAllString(exprs(t), -1)
	if len(used) == 0 {
		t.Fatal("no netctl_ metric found in the rules' expressions")
	}
	for _, m := range used {
		if !described[m] {
			t.Errorf("%s uses %s, which the exporter does not describe", rulesFile, m)
		}
	}
}

func describedMetrics() map[string]bool {
	ch := make(chan *prometheus.Desc, 100)
	exporter.NewCollector(nil, exporter.CollectorOptions{}).Describe(ch)
	exporter.NewBuildInfo("v", "r").Describe(ch)
	exporter.NewReattachCounter(func() uint64 { return 0 }).Describe(ch)
	exporter.NewNICReapply().Describe(ch)
	close(ch)
	names := map[string]bool{}
	re := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		if m := re.FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = true
		}
	}
	return names
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// alertBlocks splits the rules file into the text of each alert rule, by name.
func alertBlocks(t *testing.T) map[string]string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s+- alert: (\S+)\s*$`)
	s := string(readFile(t, rulesFile))
	idx := re.FindAllStringSubmatchIndex(s, -1)
	blocks := map[string]string{}
	for i, m := range idx {
		end := len(s)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		blocks[s[m[2]:m[3]]] = s[m[0]:end]
	}
	if len(blocks) == 0 {
		t.Fatalf("%s: no alert rule", rulesFile)
	}
	return blocks
}

func alertNames(t *testing.T) []string {
	var names []string
	for n := range alertBlocks(t) {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// exprs returns the text of the rules' expr: fields (one line or a block).
func exprs(t *testing.T) string {
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, rulesFile)))
	in, indent := false, 0
	for sc.Scan() {
		l := sc.Text()
		ind := len(l) - len(strings.TrimLeft(l, " "))
		trimmed := strings.TrimSpace(l)
		if in && (trimmed == "" || ind > indent) {
			b.WriteString(l + "\n")
			continue
		}
		in = false
		if v, ok := strings.CutPrefix(trimmed, "expr:"); ok {
			in, indent = true, ind
			b.WriteString(v + "\n")
		}
	}
	return b.String()
}

func defaultPort(t *testing.T) string {
	t.Helper()
	_, port, err := net.SplitHostPort(exporter.DefaultListenAddress)
	if err != nil {
		t.Fatal(err)
	}
	return port
}
