package top

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// Every view fits the terminal, at 80×24 (SSH) and when resized smaller or larger.
func TestRenderSizes(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {40, 10}, {200, 50}, {20, 5}} {
		m := update(t, newLabModel(t), tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for _, k := range []string{"1", "2", "3", "?"} {
			m, _ := press(t, m, k)
			checkSize(t, k+" at "+strconv.Itoa(size[0])+"x"+strconv.Itoa(size[1]), m.Render(), size[0], size[1])
		}
	}
}

func TestRender80x24(t *testing.T) {
	m := update(t, newLabModel(t), tea.WindowSizeMsg{Width: 80, Height: 24})
	out := ansi.Strip(m.Render())
	for _, s := range []string{"netctl top · netns lab-host", "2 problems", "3 problems (2)", "lab-container1", "eth0", "50kB", "48kB", "q quit"} {
		if !strings.Contains(out, s) {
			t.Errorf("interfaces view lacks %q:\n%s", s, out)
		}
	}
	// container1's eth0 receives, its eth1 transmits: in their columns.
	for _, want := range []string{`lab-container1\s+eth0\s+50kB\s+500\s+0B\s+0`, `lab-container1\s+eth1\s+0B\s+0\s+48kB\s+480`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no row matching %s:\n%s", want, out)
		}
	}
	m, _ = press(t, m, "3")
	out = ansi.Strip(m.Render())
	for _, s := range []string{"asymmetric", "in eth0→out eth1", "icmp 172.17.0.2 ⇄ 172.17.0.3 id 7", "why: in eth0, replies out eth1",
		"fix: netctl nic add --source-routing", "not checked (no signal yet): wrong-source replies, unicast flooding,"} {
		if !strings.Contains(out, s) {
			t.Errorf("problems view lacks %q:\n%s", s, out)
		}
	}
	t.Logf("problems view at 80x24:\n%s", out)
}

// sgrColor finds a color in an SGR sequence: 30–49 (with 38/48 extended), 90–107.
func hasColor(s string) bool {
	for _, m := range regexp.MustCompile(`\x1b\[([0-9;:]*)m`).FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			n, _ := strconv.Atoi(p)
			if n >= 30 && n <= 49 || n >= 90 && n <= 107 {
				return true
			}
		}
	}
	return false
}

func TestNoColor(t *testing.T) {
	if !NoColor(func(string) string { return "1" }) || NoColor(func(string) string { return "" }) {
		t.Error("NoColor does not follow NO_COLOR")
	}
	for _, color := range []bool{true, false} {
		a, b := labSamples()
		m := New(t.Context(), Options{First: a, Color: color})
		m = update(t, m, sampleMsg{sample: b})
		var all string
		for _, k := range []string{"1", "3", "space", "?"} {
			m, _ = press(t, m, k)
			all += m.Render()
		}
		all += Text(m.frame, "x", 80, 10, NewStyles(color))
		if hasColor(all) != color {
			t.Errorf("color=%v: colors in the output: %v", color, hasColor(all))
		}
		if !strings.Contains(all, "\x1b[") {
			t.Errorf("color=%v: no styling at all (bold, reverse)", color)
		}
	}
}

func TestText(t *testing.T) {
	a, b := labSamples()
	out := ansi.Strip(Text(Rates(a, b), "netns lab-host", 80, 1, NewStyles(false)))
	checkSize(t, "--once", out, 80, 100)
	for _, s := range []string{"netctl top · netns lab-host · 12:00:01 · rates over 1s", "Interfaces",
		"Flows by rate: 2 of the 2 in the table moved, the fastest 1", "172.17.0.3:40000",
		// Grouped by why and fix, most recently seen first.
		"Problems\nlab-container1 asymmetric in eth0→out eth1 · 2 conversations\n" +
			"  e.g. icmp 172.17.0.2 ⇄ 172.17.0.3 id 7, tcp 172.17.0.2:5201 ⇄ 172.17.0.3:40000\n" +
			"  why: in eth0, replies out eth1: 172.17.0.0/24 dev eth1 is more specific than\n" +
			"       eth0's 172.17.0.0/16\n" +
			"  fix: netctl nic add --source-routing, or ip rule add from 172.17.0.2 lookup T\n" +
			"       with eth0's routes in table T\n" +
			"lab-container1 asymmetric in eth0→out eth1\n" +
			"  icmp 172.17.0.2 ⇄ 198.51.100.2 id 9\n" +
			"  why: in eth0, replies out eth1: default via 172.17.0.1 dev eth1\n",
		"not checked (no signal yet): wrong-source replies"} {
		if !strings.Contains(out, s) {
			t.Errorf("--once text lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "172.17.0.2 id 7\n") || strings.Contains(out, "type 8/0") {
		t.Errorf("--once shows more flows than asked:\n%s", out)
	}
	t.Logf("--once:\n%s", out)
}

func TestLayout(t *testing.T) {
	sum := func(w []int) int {
		s, k := 0, 0
		for _, v := range w {
			if v > 0 {
				s += v
				k++
			}
		}
		return s + k - 1
	}
	for _, tc := range []struct {
		total int
		want  []int
	}{
		{80, []int{24, 8, 7, 6, 7, 6, 16}},  // prefs fit; the names grow to their max
		{120, []int{24, 8, 7, 6, 7, 6, 56}}, // the sparkline takes the rest
		{60, []int{23, 6, 7, 6, 7, 6, 0}},   // the sparkline goes first
		{45, []int{22, 6, 7, 0, 7, 0, 0}},   // then packets per second
	} {
		w := widths(ifaceCols, tc.total)
		if !equal(w, tc.want) || sum(w) > tc.total {
			t.Errorf("interfaces at %d: widths %v (sum %d), want %v", tc.total, w, sum(w), tc.want)
		}
	}
	if w := widths(flowCols, 80); sum(w) != 80 || w[len(w)-1] != 0 || w[4] < 21 {
		t.Errorf("flows at 80: %v", w)
	}
}

func equal(a, b []int) bool { return slices.Equal(a, b) }

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{0, "0B"}, {512, "512B"}, {999.4, "999B"}, {999.6, "1.0kB"}, {1500, "1.5kB"}, {38_200_000, "38MB"}, {2.5e9, "2.5GB"}} {
		if got := bytesRate(tc.v, true); got != tc.want {
			t.Errorf("bytesRate(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	if bytesRate(5, false) != "-" || countRate(1500, true) != "1.5k" || countRate(12, true) != "12" {
		t.Error("countRate or unknown rate")
	}
	if got := sparkline([]float64{0, 1, 4, 8}, 6); got != "   ▁▄█" {
		t.Errorf("sparkline = %q", got)
	}
	if got := sparkline([]float64{8, 1, 2, 3, 4, 5, 6, 7, 8}, 4); got != "▅▆▇█" {
		t.Errorf("sparkline keeps the last values: %q", got)
	}
	if got := fit("netctl-lab-container1", 12, false, true); got != "…-container1" {
		t.Errorf("fit keepTail = %q", got)
	}
	if got := fit("172.17.0.3 type 8/0", 12, false, false); got != "172.17.0.3 …" {
		t.Errorf("fit = %q", got)
	}
	if got := fit("42", 5, true, false); got != "   42" {
		t.Errorf("fit right = %q", got)
	}
	if got := wrap("why: a bb ccc dddd", 9, 2); !equal([]int{len(got)}, []int{3}) || got[1] != "  ccc" {
		t.Errorf("wrap = %q", got)
	}
}
