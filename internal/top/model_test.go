package top

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// labSamples are two samples one second apart shaped like the seed's aftermath:
// container1 receives on eth0 and answers on eth1.
func labSamples() (Sample, Sample) {
	asym := Problem{Kind: KindAsymmetric, Container: "lab-container1", Subject: "icmp 172.17.0.2 ⇄ 172.17.0.3 id 7", Where: "in eth0→out eth1",
		Reason: "in eth0, replies out eth1: 172.17.0.0/24 dev eth1 is more specific than eth0's 172.17.0.0/16",
		Fix:    "netctl nic add --source-routing, or ip rule add from 172.17.0.2 lookup T with eth0's routes in table T"}
	asym2 := asym
	asym2.Subject, asym2.Reason = "icmp 172.17.0.2 ⇄ 198.51.100.2 id 9", "in eth0, replies out eth1: default via 172.17.0.1 dev eth1"
	asym.LastSeen, asym2.LastSeen = t0.Add(time.Second), t0.Add(-30*time.Second)
	asym3 := asym // another conversation, for the same reason
	asym3.Subject, asym3.LastSeen = "tcp 172.17.0.2:5201 ⇄ 172.17.0.3:40000", t0
	a := Sample{Time: t0,
		Interfaces: []Interface{
			iface("lab-container1", "eth0", 0, 0, 0, 0),
			iface("lab-container1", "eth1", 0, 0, 0, 0),
			iface("lab-container2", "eth0", 0, 0, 0, 0),
		},
		Flows: []Flow{
			{Container: "lab-container1", Interface: "eth0", Direction: Receive, Proto: "icmp", Src: "172.17.0.3 type 8/0", Dst: "172.17.0.2 id 7"},
			{Container: "lab-container2", Interface: "eth0", Direction: Transmit, Proto: "tcp", Src: "172.17.0.3:40000", Dst: "172.17.0.2:5201"},
		},
		Problems: []Problem{asym, asym2, asym3},
		Checked:  []Kind{KindAsymmetric},
	}
	b := a
	b.Time = t0.Add(time.Second)
	b.Interfaces = []Interface{
		iface("lab-container1", "eth0", 50_000, 500, 0, 0),
		iface("lab-container1", "eth1", 0, 0, 48_000, 480),
		iface("lab-container2", "eth0", 48_000, 480, 50_000, 500),
	}
	b.Flows = []Flow{a.Flows[0], a.Flows[1]}
	b.Flows[0].Bytes, b.Flows[1].Bytes = 1000, 90_000
	b.Problems = []Problem{asym, asym2, asym3}
	b.Problems[0].Bytes, b.Problems[1].Bytes, b.Problems[2].Bytes = 4000, 100, 1000
	return a, b
}

func newLabModel(t *testing.T) Model {
	t.Helper()
	a, b := labSamples()
	m := New(context.Background(), Options{First: a, Title: "netns lab-host"})
	return update(t, m, sampleMsg{sample: b})
}

func update(t *testing.T, m Model, msg tea.Msg) Model {
	t.Helper()
	nm, _ := m.Update(msg)
	return nm.(Model)
}

// keyMsg builds the key press a terminal sends for k ("s", "tab", "ctrl+c", ...).
func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

func press(t *testing.T, m Model, ks ...string) (Model, tea.Cmd) {
	t.Helper()
	var cmd tea.Cmd
	for _, k := range ks {
		var nm tea.Model
		nm, cmd = m.Update(keyMsg(k))
		m = nm.(Model)
	}
	return m, cmd
}

func ifaceOrder(m Model) string {
	var s []string
	for _, r := range m.ifaceRows() {
		s = append(s, strings.TrimPrefix(r.Container, "lab-")+"/"+r.Name)
	}
	return strings.Join(s, " ")
}

func TestSortKeys(t *testing.T) {
	m := newLabModel(t)
	steps := []struct {
		keys   []string
		order  string
		header string
	}{
		{nil, "container1/eth0 container1/eth1 container2/eth0", "CONTAINER▲"},
		{[]string{"s"}, "container1/eth0 container2/eth0 container1/eth1", "RX B/s▼"},
		{[]string{"r"}, "container1/eth1 container2/eth0 container1/eth0", "RX B/s▲"},
		{[]string{"s", "s"}, "container2/eth0 container1/eth1 container1/eth0", "TX B/s▼"}, // s resets the direction
		{[]string{"s", "s"}, "container1/eth0 container1/eth1 container2/eth0", "CONTAINER▲"},
	}
	for _, st := range steps {
		m, _ = press(t, m, st.keys...)
		if got := ifaceOrder(m); got != st.order {
			t.Errorf("after %v: order %q, want %q", st.keys, got, st.order)
		}
		if !strings.Contains(ansi.Strip(m.Render()), st.header) {
			t.Errorf("after %v: header lacks %q:\n%s", st.keys, st.header, m.Render())
		}
	}
	// Sorting is per view: the flows view still sorts by B/s, largest first.
	m, _ = press(t, m, "2")
	if fl := m.flowRows(); fl[0].Proto != "tcp" {
		t.Errorf("flows not by rate: %+v", fl)
	}
}

func TestViewKeys(t *testing.T) {
	m := newLabModel(t)
	for _, st := range []struct {
		key  string
		want View
	}{{"3", ViewProblems}, {"1", ViewInterfaces}, {"tab", ViewFlows}, {"tab", ViewProblems}, {"tab", ViewInterfaces},
		{"shift+tab", ViewProblems}, {"2", ViewFlows}} {
		m, _ = press(t, m, st.key)
		if m.view != st.want {
			t.Errorf("after %s: view %s, want %s", st.key, m.view, st.want)
		}
	}
}

func TestFilterKeys(t *testing.T) {
	m := newLabModel(t)
	m, _ = press(t, m, "/", "c", "o", "n", "t", "a", "i", "n", "e", "r", "2")
	if !m.filtering || ifaceOrder(m) != "container2/eth0" {
		t.Fatalf("while typing: filtering=%v rows %q", m.filtering, ifaceOrder(m))
	}
	m, cmd := press(t, m, "q") // typed, not quit
	if isQuit(cmd) || m.filter.Value() != "container2q" {
		t.Fatalf("q while filtering: quit=%v value %q", isQuit(cmd), m.filter.Value())
	}
	m, _ = press(t, m, "enter")
	m.filter.SetValue("CONTAINER2") // case does not matter
	if m.filtering || ifaceOrder(m) != "container2/eth0" || !strings.Contains(m.Render(), "filter: CONTAINER2") {
		t.Errorf("after enter: filtering=%v rows %q\n%s", m.filtering, ifaceOrder(m), m.Render())
	}
	m, _ = press(t, m, "3")
	if len(m.problemRows()) != 0 || !strings.Contains(m.Render(), "no problems found") {
		t.Errorf("problems of container2: %+v", m.problemRows())
	}
	m, _ = press(t, m, "esc")
	if m.filter.Value() != "" || len(m.problemRows()) != 2 {
		t.Errorf("esc: filter %q, %d problems", m.filter.Value(), len(m.problemRows()))
	}
	m, _ = press(t, m, "/", "x", "esc")
	if m.filtering || m.filter.Value() != "" {
		t.Errorf("esc while typing: filtering=%v value %q", m.filtering, m.filter.Value())
	}
	if _, cmd := press(t, m, "/", "ctrl+c"); !isQuit(cmd) {
		t.Error("ctrl+c while filtering does not quit")
	}
}

func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

func TestQuitKeys(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		if _, cmd := press(t, newLabModel(t), k); !isQuit(cmd) {
			t.Errorf("%s does not quit", k)
		}
	}
	if _, cmd := press(t, newLabModel(t), "s"); isQuit(cmd) {
		t.Error("s quits")
	}
}

func TestHelpKey(t *testing.T) {
	m, _ := press(t, newLabModel(t), "?")
	out := m.Render()
	for _, s := range []string{"sort by next column", "filter by container", "pause", "reverse order"} {
		if !strings.Contains(out, s) {
			t.Errorf("help lacks %q:\n%s", s, out)
		}
	}
	if m, _ = press(t, m, "esc"); m.showHelp {
		t.Error("esc does not close help")
	}
}

// stepSource hands out its samples one by one, then its error.
type stepSource struct {
	samples []Sample
	err     error
}

func (s *stepSource) Sample(context.Context) (Sample, error) {
	if len(s.samples) == 0 {
		return Sample{}, s.err
	}
	x := s.samples[0]
	s.samples = s.samples[1:]
	return x, nil
}

// The refresh loop: a tick fetches, a sample updates and schedules the next tick; a
// paused model drops both, and resuming fetches at once; stale loops are ignored.
func TestRefreshAndPause(t *testing.T) {
	a, b := labSamples()
	c := b
	c.Time = b.Time.Add(time.Second)
	src := &stepSource{samples: []Sample{b, c}, err: errors.New("pins gone")}
	m := New(context.Background(), Options{Source: src, First: a, Interval: time.Millisecond})
	msg := m.Init()()
	if _, ok := msg.(tickMsg); !ok {
		t.Fatalf("Init: %T", msg)
	}
	nm, cmd := m.Update(msg)
	m = nm.(Model)
	m = update(t, m, cmd()) // sample b
	if !m.frame.Time.Equal(b.Time) || m.frame.Interval != time.Second {
		t.Fatalf("after b: frame %s interval %s", m.frame.Time, m.frame.Interval)
	}

	m, cmd = press(t, m, "space")
	if !m.paused || cmd != nil || !strings.Contains(m.Render(), "PAUSED") {
		t.Fatalf("space: paused=%v cmd=%v", m.paused, cmd)
	}
	if _, cmd := m.Update(tickMsg{gen: m.gen}); cmd != nil {
		t.Error("paused model fetches on a tick")
	}
	if m2 := update(t, m, sampleMsg{gen: m.gen, sample: c}); !m2.frame.Time.Equal(b.Time) {
		t.Error("paused model took a sample")
	}
	m, cmd = press(t, m, "p")
	if m.paused || cmd == nil {
		t.Fatalf("p: paused=%v, want a fetch at once", m.paused)
	}
	if stale := update(t, m, sampleMsg{gen: m.gen - 1, sample: c}); !stale.frame.Time.Equal(b.Time) {
		t.Error("sample of an older loop taken")
	}
	m = update(t, m, cmd()) // sample c
	if !m.frame.Time.Equal(c.Time) || len(m.hist[m.frame.Interfaces[0].key()]) != 2 {
		t.Errorf("after resume: frame %s, history %v", m.frame.Time, m.hist)
	}
	m = update(t, m, m.fetch()()) // the error
	if m.err == nil || !strings.Contains(m.Render(), "read failed: pins gone") || !m.frame.Time.Equal(c.Time) {
		t.Errorf("error not shown or frame lost:\n%s", m.Render())
	}
}

func TestProblemCursor(t *testing.T) {
	m, _ := press(t, newLabModel(t), "3")
	if !strings.Contains(m.Render(), "why: in eth0, replies out eth1: 172.17.0.0/24 dev eth1") {
		t.Errorf("first problem's why missing:\n%s", m.Render())
	}
	m, _ = press(t, m, "down", "down", "down") // stops at the last
	if m.cursor[ViewProblems] != 1 || !strings.Contains(m.Render(), "why: in eth0, replies out eth1: default via") {
		t.Errorf("cursor %d:\n%s", m.cursor[ViewProblems], m.Render())
	}
	m, _ = press(t, m, "g")
	if m.cursor[ViewProblems] != 0 {
		t.Errorf("g: cursor %d", m.cursor[ViewProblems])
	}
}

// checkSize fails when out has more than h lines or a line wider than w cells.
func checkSize(t *testing.T, what, out string, w, h int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) > h {
		t.Errorf("%s: %d lines, want at most %d", what, len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("%s: line %d is %d cells wide, want at most %d: %q", what, i, n, w, ansi.Strip(l))
		}
	}
}
