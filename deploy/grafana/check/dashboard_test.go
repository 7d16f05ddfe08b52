package check

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/netctl/netctl/exporter"
)

const dashboardPath = "../netctl.json"

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Datasource  *datasource `json:"datasource"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []target `json:"targets"`
	Panels  []panel  `json:"panels"` // a row's panels (when collapsed)
}

type target struct {
	RefID        string      `json:"refId"`
	Expr         string      `json:"expr"`
	LegendFormat string      `json:"legendFormat"`
	Datasource   *datasource `json:"datasource"`
}

type variable struct {
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	Datasource *datasource     `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
}

// queryString is the variable's query: a string, or an object with a "query" field.
func (v variable) queryString() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	if json.Unmarshal(v.Query, &o) == nil {
		return o.Query
	}
	return ""
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	return d
}

// walkPanels calls f for every panel, rows and the panels nested in rows included.
func walkPanels(ps []panel, f func(p panel)) {
	for _, p := range ps {
		f(p)
		walkPanels(p.Panels, f)
	}
}

// targetLabels are the labels Prometheus adds to every series it scrapes.
var targetLabels = []string{"job", "instance"}

// knownMetrics returns the label names of each metric the exporter describes
// (netctl_build_info with its constant labels) and of up.
func knownMetrics(t *testing.T) map[string][]string {
	t.Helper()
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		exporter.NewCollector(nil, exporter.CollectorOptions{}).Describe(ch)
		exporter.NewBuildInfo("v0", "r0").Describe(ch)
		close(ch)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	constLabels := regexp.MustCompile(`constLabels: \{([^}]*)\}`)
	varLabels := regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	known := map[string][]string{"up": nil}
	for d := range ch {
		s := d.String()
		m := fqName.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("no fqName in %s", s)
		}
		var ls []string
		if c := constLabels.FindStringSubmatch(s); c != nil && c[1] != "" {
			for _, kv := range strings.Split(c[1], ",") {
				ls = append(ls, strings.SplitN(kv, "=", 2)[0])
			}
		}
		if v := varLabels.FindStringSubmatch(s); v != nil && v[1] != "" {
			ls = append(ls, strings.Split(v[1], ",")...)
		}
		known[m[1]] = ls
	}
	if len(known) < 10 {
		t.Fatalf("the exporter describes only %v", known)
	}
	return known
}

// substitute replaces the Grafana variables the dashboard may use: what the e2e test in
// the main module does with plain string replacement too.
func substitute(expr string) string {
	return strings.NewReplacer(
		"${datasource}", "prometheus",
		"$__rate_interval", "1m",
		"$job", ".+",
		"$instance", ".+",
		"$container", ".+",
	).Replace(expr)
}

// grafanaVariable finds what substitute does not handle: any other $name or ${name}.
var grafanaVariable = regexp.MustCompile(`\$\{?[A-Za-z_]\w*`)

var promql = parser.NewParser(parser.Options{})

// parse parses expr with only $__rate_interval replaced, so the variables stay visible
// in the matchers, and again fully substituted, as Prometheus will see it.
func parse(expr string) (parser.Expr, error) {
	if rest := grafanaVariable.FindAllString(strings.NewReplacer(
		"${datasource}", "", "$__rate_interval", "", "$job", "", "$instance", "", "$container", "",
	).Replace(expr), -1); len(rest) > 0 {
		return nil, fmt.Errorf("Grafana variables other than $job, $instance, $container, $__rate_interval: %v", rest)
	}
	if _, err := promql.ParseExpr(substitute(expr)); err != nil {
		return nil, err
	}
	return promql.ParseExpr(strings.ReplaceAll(expr, "$__rate_interval", "1m"))
}

// selector is one metric selector of a query and whether it is rated.
type selector struct {
	vs    *parser.VectorSelector
	rated bool // inside rate() or irate()
}

func selectors(e parser.Expr) []selector {
	var out []selector
	parser.Inspect(e, func(n parser.Node, path []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		s := selector{vs: vs}
		for _, p := range path {
			if c, ok := p.(*parser.Call); ok && (c.Func.Name == "rate" || c.Func.Name == "irate") {
				s.rated = true
			}
		}
		out = append(out, s)
		return nil
	})
	return out
}

// wantUnit is the unit of a panel that shows the metric (rated or not); "" for any.
func wantUnit(metric string, rated bool) string {
	switch {
	case rated && (strings.HasPrefix(metric, "netctl_interface_") || strings.HasPrefix(metric, "netctl_flow_") || strings.HasPrefix(metric, "netctl_asymmetric_")) && strings.HasSuffix(metric, "_bytes_total"):
		return "Bps"
	case rated && (strings.HasPrefix(metric, "netctl_interface_") || strings.HasPrefix(metric, "netctl_flow_")) && strings.HasSuffix(metric, "_packets_total"):
		return "pps"
	case metric == "netctl_flow_table_entries" || metric == "netctl_flow_table_capacity":
		return "percentunit"
	}
	return ""
}

func isDatasourceVar(ds *datasource) bool { return ds != nil && ds.UID == "${datasource}" }

// checkSelector checks a selector's metric and matchers: a metric the exporter describes
// (or up), filtered by $job and $instance, and by $container when it has that label;
// matchers only on labels the metric has.
func checkSelector(vs *parser.VectorSelector, known map[string][]string) []string {
	var problems []string
	name := vs.Name
	if name == "" {
		return []string{fmt.Sprintf("selector %s has no metric name", vs)}
	}
	ls, ok := known[name]
	if !ok {
		return []string{fmt.Sprintf("metric %s is not one the exporter describes", name)}
	}
	has := func(l string) bool {
		return slices.Contains(ls, l) || slices.Contains(targetLabels, l) || l == labels.MetricName
	}
	want := map[string]string{"job": "$job", "instance": "$instance"}
	if slices.Contains(ls, "container") {
		want["container"] = "$container"
	}
	for _, m := range vs.LabelMatchers {
		if !has(m.Name) {
			problems = append(problems, fmt.Sprintf("%s: matcher on %q, a label it does not have", name, m.Name))
		}
		if v, ok := want[m.Name]; ok && m.Type == labels.MatchRegexp && m.Value == v {
			delete(want, m.Name)
		}
	}
	for _, l := range sortedKeys(want) {
		problems = append(problems, fmt.Sprintf(`%s: not filtered by %s=~"%s"`, name, l, want[l]))
	}
	return problems
}

// checkDashboard returns what is wrong with d, given the exporter's metrics.
func checkDashboard(d dashboard, known map[string][]string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if d.UID != "netctl" || d.Title != "netctl" {
		bad("uid %q title %q, want netctl netctl", d.UID, d.Title)
	}
	if d.SchemaVersion < 39 {
		bad("schemaVersion %d, want 39 or later", d.SchemaVersion)
	}
	problems = append(problems, checkVariables(d.Templating.List, known)...)

	ids := map[int]string{}
	used := map[string]bool{}
	walkPanels(d.Panels, func(p panel) {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.ID <= 0 {
			bad("%s: no id", where)
		} else if other, dup := ids[p.ID]; dup {
			bad("%s: id used by %q too", where, other)
		}
		ids[p.ID] = p.Title
		if p.Title == "" {
			bad("%s: no title", where)
		}
		switch p.Type {
		case "row":
			if len(p.Targets) > 0 {
				bad("%s: a row with queries", where)
			}
			return
		case "timeseries", "stat", "table":
		default:
			bad("%s: type %q, want timeseries, stat or table", where, p.Type)
		}
		if strings.TrimSpace(p.Description) == "" {
			bad("%s: no description", where)
		}
		if !isDatasourceVar(p.Datasource) {
			bad("%s: datasource %+v, want uid ${datasource}", where, p.Datasource)
		}
		if len(p.Targets) == 0 {
			bad("%s: no queries", where)
		}
		units := map[string]bool{}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			where := fmt.Sprintf("%s target %s", where, tg.RefID)
			if refs[tg.RefID] {
				bad("%s: refId used twice", where)
			}
			refs[tg.RefID] = true
			if !isDatasourceVar(tg.Datasource) {
				bad("%s: datasource %+v, want uid ${datasource}", where, tg.Datasource)
			}
			e, err := parse(tg.Expr)
			if err != nil {
				bad("%s: %q: %v", where, tg.Expr, err)
				continue
			}
			sels := selectors(e)
			if len(sels) == 0 {
				bad("%s: %q selects no metric", where, tg.Expr)
			}
			for _, s := range sels {
				used[s.vs.Name] = true
				for _, pr := range checkSelector(s.vs, known) {
					bad("%s: %s", where, pr)
				}
				if u := wantUnit(s.vs.Name, s.rated); u != "" {
					units[u] = true
				}
			}
		}
		for u := range units {
			if p.FieldConfig.Defaults.Unit != u {
				bad("%s: unit %q, want %q", where, p.FieldConfig.Defaults.Unit, u)
			}
		}
	})
	// The panels the issue asks for, by the metric they show.
	for _, m := range []string{
		"netctl_interface_receive_bytes_total", "netctl_interface_transmit_bytes_total",
		"netctl_interface_receive_packets_total", "netctl_interface_transmit_packets_total",
		"netctl_flow_receive_bytes_total", "netctl_flow_transmit_bytes_total",
		"netctl_asymmetric_flows", "netctl_asymmetric_bytes_total",
		"netctl_flow_table_entries", "netctl_flow_table_capacity", "netctl_flow_insert_failures_total",
		"up", "netctl_up", "netctl_snapshot_duration_seconds", "netctl_attached_interfaces",
		"netctl_bridge_ports_unobserved",
	} {
		if !used[m] {
			bad("no panel shows %s", m)
		}
	}
	return problems
}

var labelValues = regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`)

func checkVariables(vars []variable, known map[string][]string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	byName := map[string]variable{}
	for _, v := range vars {
		byName[v.Name] = v
	}
	if ds, ok := byName["datasource"]; !ok || ds.Type != "datasource" || ds.queryString() != "prometheus" {
		bad("variable datasource: %+v, want type datasource, query prometheus", ds)
	}
	for _, w := range []struct {
		name, query string
		multi       bool
	}{
		{"job", "label_values(netctl_build_info, job)", false},
		{"instance", `label_values(netctl_build_info{job=~"$job"}, instance)`, true},
		{"container", `label_values(netctl_interface_receive_bytes_total{job=~"$job",instance=~"$instance"}, container)`, true},
	} {
		v, ok := byName[w.name]
		if !ok {
			bad("no variable %s", w.name)
			continue
		}
		q := v.queryString()
		if v.Type != "query" || q != w.query {
			bad("variable %s: type %q query %q, want query %q", w.name, v.Type, q, w.query)
		}
		if !isDatasourceVar(v.Datasource) {
			bad("variable %s: datasource %+v, want uid ${datasource}", w.name, v.Datasource)
		}
		if w.multi && (!v.Multi || !v.IncludeAll || v.AllValue != ".+") {
			bad("variable %s: multi %v includeAll %v allValue %q, want multi, includeAll with allValue .+", w.name, v.Multi, v.IncludeAll, v.AllValue)
		}
		// The query's selector and label must exist.
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			bad("variable %s: %q is not label_values(selector, label)", w.name, q)
			continue
		}
		e, err := promql.ParseExpr(substitute(m[1]))
		if err != nil {
			bad("variable %s: %q: %v", w.name, m[1], err)
			continue
		}
		vs, ok := e.(*parser.VectorSelector)
		if !ok {
			bad("variable %s: %q is not a selector", w.name, m[1])
			continue
		}
		ls, ok := known[vs.Name]
		if !ok {
			bad("variable %s: metric %s is not one the exporter describes", w.name, vs.Name)
		} else if !slices.Contains(ls, m[2]) && !slices.Contains(targetLabels, m[2]) {
			bad("variable %s: %s has no label %s", w.name, vs.Name, m[2])
		}
	}
	return problems
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestDashboard checks the shipped dashboard.
func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	for _, p := range checkDashboard(d, knownMetrics(t)) {
		t.Error(p)
	}
}

// TestDashboardUnits pins the units and legends the issue asks for.
func TestDashboardUnits(t *testing.T) {
	d := loadDashboard(t)
	seen := 0
	walkPanels(d.Panels, func(p panel) {
		for _, tg := range p.Targets {
			if strings.HasPrefix(tg.Expr, "rate(netctl_interface_") {
				seen++
				if tg.LegendFormat != "{{container}} {{interface}}" {
					t.Errorf("panel %q: legend %q, want {{container}} {{interface}}", p.Title, tg.LegendFormat)
				}
			}
			if strings.Contains(tg.Expr, "netctl_flow_table_entries") && !strings.Contains(tg.Expr, "/ netctl_flow_table_capacity") {
				t.Errorf("panel %q: %q is not entries / capacity", p.Title, tg.Expr)
			}
		}
	})
	if seen != 4 {
		t.Errorf("%d interface rate queries, want 4 (receive/transmit bytes/packets)", seen)
	}
}

// TestCheckerCatches makes sure checkDashboard finds each kind of mistake, in a
// collapsed row's panels too.
func TestCheckerCatches(t *testing.T) {
	known := knownMetrics(t)
	ds := &datasource{Type: "prometheus", UID: "${datasource}"}
	good := loadDashboard(t)
	if p := checkDashboard(good, known); len(p) > 0 {
		t.Fatalf("the shipped dashboard has problems: %v", p)
	}
	const f = `job=~"$job",instance=~"$instance"`
	nested := func(p panel) dashboard {
		d := good
		d.Panels = append(slices.Clone(good.Panels), panel{ID: 900, Type: "row", Title: "collapsed", Panels: []panel{p}})
		return d
	}
	ts := func(expr, unit string) panel {
		p := panel{ID: 901, Type: "timeseries", Title: "t", Description: "d", Datasource: ds,
			Targets: []target{{RefID: "A", Expr: expr, Datasource: ds}}}
		p.FieldConfig.Defaults.Unit = unit
		return p
	}
	cases := []struct {
		name string
		d    dashboard
		want string
	}{
		{"unknown metric", nested(ts(`netctl_bogus{`+f+`}`, "")), "metric netctl_bogus is not one the exporter describes"},
		{"syntax error", nested(ts(`rate(netctl_up{`+f+`}[$__rate_interval]`, "")), `target A: "rate(`},
		{"other Grafana variable", nested(ts(`netctl_up{`+f+`}[$__range]`, "")), "Grafana variables other than"},
		{"no job filter", nested(ts(`netctl_up{instance=~"$instance"}`, "")), `netctl_up: not filtered by job=~"$job"`},
		{"no container filter", nested(ts(`netctl_asymmetric_flows{`+f+`}`, "")), `netctl_asymmetric_flows: not filtered by container=~"$container"`},
		{"label it has not", nested(ts(`netctl_up{`+f+`,container=~"$container"}`, "")), `netctl_up: matcher on "container"`},
		{"unit", nested(ts(`rate(netctl_interface_receive_packets_total{`+f+`,container=~"$container"}[$__rate_interval])`, "Bps")), `unit "Bps", want "pps"`},
		{"legacy graph", nested(func() panel { p := ts(`netctl_up{`+f+`}`, ""); p.Type = "graph"; return p }()), `type "graph"`},
		{"datasource", nested(func() panel { p := ts(`netctl_up{`+f+`}`, ""); p.Targets[0].Datasource = nil; return p }()), "target A: datasource"},
		{"duplicate id", nested(func() panel { p := ts(`netctl_up{`+f+`}`, ""); p.ID = good.Panels[1].ID; return p }()), "id used by"},
		{"no description", nested(func() panel { p := ts(`netctl_up{`+f+`}`, ""); p.Description = ""; return p }()), "no description"},
		{"variable", func() dashboard {
			d := good
			d.Templating.List = slices.DeleteFunc(slices.Clone(good.Templating.List), func(v variable) bool { return v.Name == "container" })
			return d
		}(), "no variable container"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			problems := checkDashboard(c.d, known)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("problems %q, want one containing %q", problems, c.want)
			}
		})
	}
}

// TestKnownMetrics: the metric set read from the exporter's descriptors has the names and
// labels docs/metrics.md fixes.
func TestKnownMetrics(t *testing.T) {
	known := knownMetrics(t)
	for name, want := range map[string][]string{
		"netctl_interface_receive_bytes_total": {"container", "interface", "host_interface", "bridge"},
		"netctl_flow_transmit_bytes_total":     {"container", "interface", "proto", "local", "remote", "port"},
		"netctl_asymmetric_flows":              {"container", "in_interface", "out_interface"},
		"netctl_build_info":                    {"goversion", "revision", "version"},
		"netctl_up":                            nil,
	} {
		got := slices.Sorted(slices.Values(known[name]))
		if _, ok := known[name]; !ok || !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("%s: labels %v (known %v), want %v", name, got, ok, want)
		}
	}
}
