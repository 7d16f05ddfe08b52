package top

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// View renders the model for Bubble Tea: full screen, in the alternate screen.
func (m Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "netctl top"
	return v
}

// Render returns the screen: at most height lines of at most width cells.
func (m Model) Render() string {
	w, h := max(m.width, 20), max(m.height, 5)
	top := []string{m.titleLine(w), m.tabsLine(w)}
	bottom := []string{m.statusLine(w), m.helpLine(w)}
	bodyH := h - len(top) - len(bottom)
	var body []string
	switch {
	case m.showHelp:
		body = append([]string{""}, strings.Split(m.help.View(keys), "\n")...)
	case m.view == ViewFlows:
		body = table(m.styles, flowCols, m.flowRows(), w, bodyH, m.sortBy[ViewFlows], m.reverse[ViewFlows], m.cursor[ViewFlows], "no flows", nil)
	case m.view == ViewProblems:
		body = m.problemsBody(w, bodyH)
	default:
		body = table(m.styles, ifaceCols, m.ifaceRows(), w, bodyH, m.sortBy[ViewInterfaces], m.reverse[ViewInterfaces], m.cursor[ViewInterfaces],
			"no interfaces counted: attach with 'netctl attach' or run 'netctl serve'", nil)
	}
	body = body[:min(len(body), bodyH)]
	for len(body) < bodyH {
		body = append(body, "")
	}
	lines := append(append(top, body...), bottom...)
	for i := range lines {
		lines[i] = ansi.Truncate(lines[i], w, "")
	}
	return strings.Join(lines, "\n")
}

// table renders a header and the rows that fit in h lines, the selected one (sel ≥ 0)
// highlighted; style, when set, styles a row that is not selected.
func table[T any](st Styles, cols []column[T], rows []T, w, h, by int, reverse bool, sel int, empty string, style func(T) lipgloss.Style) []string {
	cw := widths(cols, w)
	out := []string{st.Header.Render(strings.TrimRight(header(cols, cw, by, reverse), " "))}
	if len(rows) == 0 {
		return append(out, st.Dim.Render(empty))
	}
	sel = min(sel, len(rows)-1)
	first := window(sel, len(rows), h-1)
	for i := first; i < len(rows) && len(out) < h; i++ {
		line := row(cols, cw, rows[i])
		switch {
		case i == sel:
			line = st.Selected.Render(fit(line, w, false, false)) // the highlight spans the line
		case style != nil:
			line = style(rows[i]).Render(strings.TrimRight(line, " "))
		default:
			line = strings.TrimRight(line, " ")
		}
		out = append(out, line)
	}
	return out
}

// problemsBody is the problems table, the selected problem's why and fix under it, and
// the kinds not checked.
func (m Model) problemsBody(w, h int) []string {
	rows := m.problemRows()
	var foot []string
	if len(m.frame.NotChecked) > 0 {
		foot = wrap("not checked (no signal yet): "+kindLabels(m.frame.NotChecked), w, 2)
	}
	if len(rows) == 0 {
		msg := "no problems found"
		if len(m.frame.Checked) > 0 {
			msg += " (checked: " + kindLabels(m.frame.Checked) + ")"
		}
		out := table(m.styles, problemCols, rows, w, h, m.sortBy[ViewProblems], m.reverse[ViewProblems], 0, msg, nil)
		return append(append(out, ""), styleAll(m.styles.Dim, foot)...)
	}
	sel := min(m.cursor[ViewProblems], len(rows)-1)
	detail := append([]string{""}, groupDetail(m.styles, rows[sel], w)...)
	listH := max(h-len(detail)-len(foot), min(len(rows)+1, 4))
	out := table(m.styles, problemCols, rows, w, listH, m.sortBy[ViewProblems], m.reverse[ViewProblems], sel, "",
		func(problemGroup) lipgloss.Style { return m.styles.Problem })
	out = append(out, detail...)
	return append(out, styleAll(m.styles.Dim, foot)...)
}

func (m Model) titleLine(w int) string {
	left := m.styles.Title.Render("netctl top") + " · " + m.title
	if m.frame.Interval > 0 {
		left += fmt.Sprintf(" · every %s", m.interval)
	}
	if !m.frame.Time.IsZero() {
		left += " · " + m.frame.Time.Format("15:04:05")
	}
	var right string
	switch n := len(groupProblems(m.frame.Problems, m.frame.Time)); n {
	case 0:
		right = m.styles.Dim.Render("no problems")
	case 1:
		right = m.styles.Problem.Render("1 problem")
	default:
		right = m.styles.Problem.Render(fmt.Sprintf("%d problems", n))
	}
	if m.paused {
		right = m.styles.Paused.Render(" PAUSED ") + " " + right
	}
	return spread(left, right, w)
}

func (m Model) tabsLine(w int) string {
	var tabs []string
	for v := range numViews {
		label := fmt.Sprintf(" %d %s ", v+1, v)
		if n := len(groupProblems(m.frame.Problems, m.frame.Time)); v == ViewProblems && n > 0 {
			label = fmt.Sprintf(" %d %s (%d) ", v+1, v, n)
		}
		if v == m.view {
			tabs = append(tabs, m.styles.ActiveTab.Render(label))
		} else {
			tabs = append(tabs, m.styles.Tab.Render(label))
		}
	}
	right := ""
	if f := m.filter.Value(); f != "" && !m.filtering {
		right = "filter: " + f
	}
	return spread(strings.Join(tabs, " "), right, w)
}

func (m Model) statusLine(w int) string {
	switch {
	case m.filtering:
		return m.filter.View() + m.styles.Dim.Render("  (enter: apply, esc: clear)")
	case m.err != nil:
		return m.styles.Err.Render("read failed: " + m.err.Error())
	case m.frame.Interval == 0:
		return m.styles.Dim.Render("rates after the next sample…")
	}
	return m.styles.Dim.Render(fmt.Sprintf("%d rows · rates over %s", m.rowCount(), m.frame.Interval.Round(10*time.Millisecond)))
}

func (m Model) helpLine(w int) string {
	if m.showHelp {
		return m.styles.Dim.Render("? or esc: close help")
	}
	h := m.help
	h.ShowAll = false
	h.SetWidth(w)
	return h.View(keys)
}

// spread puts left and right on one line w cells wide, right-aligned; right goes when
// both do not fit.
func spread(left, right string, w int) string {
	lw, rw := lipgloss.Width(left), lipgloss.Width(right)
	if right == "" || lw+1+rw > w {
		return left
	}
	return left + strings.Repeat(" ", w-lw-rw) + right
}

func styleAll(s lipgloss.Style, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = s.Render(l)
	}
	return out
}

func kindLabels(ks []Kind) string {
	var s []string
	for _, k := range ks {
		s = append(s, k.Label())
	}
	return strings.Join(s, ", ")
}
