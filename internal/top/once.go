package top

import (
	"fmt"
	"strings"
	"time"
)

// Text renders one frame for `netctl top --once`: a title, every interface, the flows
// that moved, fastest first (at most maxFlows, 0: all), the problems grouped by their why
// and fix, and the kinds of problem not checked. Lines are at most width cells.
func Text(f Frame, title string, width, maxFlows int, st Styles) string {
	width = max(width, 20)
	m := Model{frame: f, styles: st, hist: map[string][]float64{}}
	m.sortBy[ViewFlows] = columnIndex(flowCols, "B/s")
	m.sortBy[ViewProblems] = columnIndex(problemCols, "SEEN")
	var out []string
	out = append(out, fmt.Sprintf("%s · %s · %s · rates over %s", st.Title.Render("netctl top"), title, f.Time.Format("15:04:05"), f.Interval.Round(10*time.Millisecond)))

	ifs := m.ifaceRows()
	out = append(out, "", st.Title.Render("Interfaces"))
	out = append(out, table(st, ifaceCols[:len(ifaceCols)-1], ifs, width, len(ifs)+1, 0, false, -1, "no interfaces counted", nil)...)

	var moved []FlowRate
	for _, r := range m.flowRows() {
		if r.BytesRate > 0 {
			moved = append(moved, r)
		}
	}
	shown := len(moved)
	if maxFlows > 0 && shown > maxFlows {
		shown = maxFlows
	}
	heading := fmt.Sprintf("Flows by rate: %d of the %d in the table moved", len(moved), len(f.Flows))
	if shown < len(moved) {
		heading += fmt.Sprintf(", the fastest %d", shown)
	}
	out = append(out, "", st.Title.Render(heading))
	if shown > 0 {
		out = append(out, table(st, flowCols, moved, width, shown+1, m.sortBy[ViewFlows], false, -1, "", nil)...)
	}

	pr := m.problemRows()
	out = append(out, "", st.Title.Render("Problems"))
	if len(pr) == 0 {
		msg := "no problems found"
		if len(f.Checked) > 0 {
			msg += " (checked: " + kindLabels(f.Checked) + ")"
		}
		out = append(out, msg)
	}
	for _, g := range pr {
		out = append(out, groupDetail(st, g, width)...)
	}
	if len(f.NotChecked) > 0 {
		out = append(out, wrap("not checked (no signal yet): "+kindLabels(f.NotChecked), width, 2)...)
	}
	return strings.Join(out, "\n") + "\n"
}
