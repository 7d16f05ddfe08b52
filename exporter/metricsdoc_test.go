package exporter

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/netctl/netctl/probe"
)

const metricsDocPath = "../docs/metrics.md"

// metricDoc is one metric: a row of docs/metrics.md, or what the code describes.
type metricDoc struct {
	Type   string   // counter or gauge
	Labels []string // sorted; the constant labels of netctl_build_info included
	Help   string
}

func (m metricDoc) String() string {
	return fmt.Sprintf("%s {%s} %q", m.Type, strings.Join(m.Labels, ","), m.Help)
}

var (
	docRowName  = regexp.MustCompile("^`(netctl_[a-zA-Z0-9_]+)`$")
	docBackquot = regexp.MustCompile("`([^`]*)`")
)

// splitRow splits a Markdown table row into its trimmed cells (`\|` is a literal pipe).
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// parseMetricsDoc reads the rows of the tables whose first cell is a `netctl_…` name:
// | name | type | labels | help | notes |. Labels are backquoted; "—" or empty for none.
func parseMetricsDoc(text string) (map[string]metricDoc, []string) {
	rows := map[string]metricDoc{}
	var problems []string
	for n, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "|") {
			continue
		}
		cells := splitRow(line)
		m := docRowName.FindStringSubmatch(cells[0])
		if m == nil {
			continue
		}
		name := m[1]
		if len(cells) < 4 {
			problems = append(problems, fmt.Sprintf("line %d: %s: %d cells, want name | type | labels | help | notes", n+1, name, len(cells)))
			continue
		}
		if _, dup := rows[name]; dup {
			problems = append(problems, fmt.Sprintf("line %d: %s documented twice", n+1, name))
		}
		var ls []string
		for _, l := range docBackquot.FindAllStringSubmatch(cells[2], -1) {
			ls = append(ls, l[1])
		}
		slices.Sort(ls)
		rows[name] = metricDoc{Type: strings.ToLower(cells[1]), Labels: ls, Help: cells[3]}
	}
	return rows, problems
}

var (
	descFQName = regexp.MustCompile(`fqName: ("(?:[^"\\]|\\.)*")`)
	descHelp   = regexp.MustCompile(`help: ("(?:[^"\\]|\\.)*")`)
	descConst  = regexp.MustCompile(`constLabels: \{([^}]*)\}`)
	descVar    = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
)

// describedMetrics returns what the collector and netctl_build_info describe (name,
// labels, help, from the descriptors) with each metric's type, read from what they
// collect over a snapshot that has every kind of series.
func describedMetrics(t *testing.T) map[string]metricDoc {
	t.Helper()
	c, src, _ := newTestCollector(CollectorOptions{})
	src.set(probe.Snapshot{
		Interfaces: []probe.InterfaceCounters{ciface("eth0", 10, 1000, 1, 100), ciface("eth1", 1, 100, 10, 1000)},
		Flows: []probe.Flow{ // in on eth0, out on eth1: asymmetric
			cflow("eth0", probe.Receive, 6, "10.0.0.3", 40000, "172.17.0.2", 80, 5, 500, -time.Minute, 0),
			cflow("eth1", probe.Transmit, 6, "172.17.0.2", 80, "10.0.0.3", 40000, 4, 400, -time.Minute, 0),
		},
		Bridges:     []probe.BridgeStatus{{Name: "docker0", Ports: 2}},
		FlowEntries: 2, FlowCapacity: 64,
	}, nil)
	bi := NewBuildInfo("v1", "abc")
	ra := NewNICReapply()
	ra.Reapplied("web")
	ra.Failed("web")
	rc := NewReattachCounter(func() uint64 { return 2 })

	got := map[string]metricDoc{}
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); bi.Describe(ch); ra.Describe(ch); rc.Describe(ch); close(ch) }()
	for d := range ch {
		s := d.String()
		var name, help string
		var err error
		if m := descFQName.FindStringSubmatch(s); m != nil {
			name, err = strconv.Unquote(m[1])
		}
		if m := descHelp.FindStringSubmatch(s); err == nil && m != nil {
			help, err = strconv.Unquote(m[1])
		}
		if name == "" || err != nil {
			t.Fatalf("cannot read the descriptor %s (%v)", s, err)
		}
		var ls []string
		if m := descConst.FindStringSubmatch(s); m != nil && m[1] != "" {
			for _, kv := range strings.Split(m[1], ",") {
				ls = append(ls, strings.SplitN(kv, "=", 2)[0])
			}
		}
		if m := descVar.FindStringSubmatch(s); m != nil && m[1] != "" {
			for _, l := range strings.Split(m[1], ",") {
				ls = append(ls, strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"))
			}
		}
		slices.Sort(ls)
		got[name] = metricDoc{Labels: ls, Help: help}
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c, bi, ra, rc)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		m, ok := got[mf.GetName()]
		if !ok {
			t.Errorf("%s is collected but not described", mf.GetName())
			continue
		}
		m.Type = strings.ToLower(mf.GetType().String())
		got[mf.GetName()] = m
	}
	for name, m := range got {
		if m.Type == "" {
			t.Errorf("%s is described but the test's snapshot does not make it collected: extend the snapshot in describedMetrics so its type can be checked", name)
		}
	}
	return got
}

// TestMetricsDoc keeps docs/metrics.md in sync with the metrics the exporter describes.
func TestMetricsDoc(t *testing.T) {
	text, err := os.ReadFile(metricsDocPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, problems := parseMetricsDoc(string(text))
	for _, p := range problems {
		t.Errorf("%s: %s", metricsDocPath, p)
	}
	code := describedMetrics(t)
	for _, name := range sortedNames(code) {
		d, ok := doc[name]
		switch {
		case !ok:
			t.Errorf("%s: no row for %s (%v), which the exporter describes", metricsDocPath, name, code[name])
		case d.Type != code[name].Type || !slices.Equal(d.Labels, code[name].Labels) || d.Help != code[name].Help:
			t.Errorf("%s: %s documented as\n\t%v\nthe exporter says\n\t%v", metricsDocPath, name, d, code[name])
		}
	}
	for _, name := range sortedNames(doc) {
		if _, ok := code[name]; !ok {
			t.Errorf("%s: extra row for %s, which the exporter does not describe", metricsDocPath, name)
		}
	}
}

// TestParseMetricsDoc: the row parser reads names, types, labels and help, and reports
// short rows and duplicates.
func TestParseMetricsDoc(t *testing.T) {
	text := "intro `netctl_not_a_row`\n" +
		"| name | type | labels | help | notes |\n|---|---|---|---|---|\n" +
		"| `netctl_a_total` | Counter | `z`, `a` | Help with a \\| pipe. | note |\n" +
		"| `netctl_b` | gauge | — | B. | |\n" +
		"| `netctl_b` | gauge | — | B. | |\n" +
		"| `netctl_c` | gauge |\n" +
		"| `other` | gauge | — | x | |\n"
	rows, problems := parseMetricsDoc(text)
	want := map[string]metricDoc{
		"netctl_a_total": {Type: "counter", Labels: []string{"a", "z"}, Help: "Help with a | pipe."},
		"netctl_b":       {Type: "gauge", Help: "B."},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("rows %v, want %v", rows, want)
	}
	if len(problems) != 2 || !strings.Contains(problems[0], "netctl_b documented twice") || !strings.Contains(problems[1], "netctl_c: 2 cells") {
		t.Errorf("problems %q", problems)
	}
}

func sortedNames(m map[string]metricDoc) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
