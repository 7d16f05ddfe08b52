package top

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// problemGroup is the problems that share a container, kind, interfaces, reason and fix:
// one row of the problems view. A busy server has one asymmetric conversation per
// client, all for the same reason; the view lists the reason once, with how many.
type problemGroup struct {
	Kind                          Kind
	Container, Where, Reason, Fix string
	count                         int
	last                          time.Time
	age                           string   // since last, at the frame's time
	subjects                      []string // most recently seen first
}

// groupProblems groups ps, each group's subjects most recently seen first. It is pure.
func groupProblems(ps []ProblemRate, now time.Time) []problemGroup {
	ps = slices.Clone(ps)
	slices.SortStableFunc(ps, func(a, b ProblemRate) int { return b.LastSeen.Compare(a.LastSeen) })
	var out []problemGroup
	at := map[[5]string]int{}
	for _, p := range ps {
		k := [5]string{string(p.Kind), p.Container, p.Where, p.Reason, p.Fix}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, problemGroup{Kind: p.Kind, Container: p.Container, Where: p.Where, Reason: p.Reason, Fix: p.Fix, last: p.LastSeen})
		}
		g := &out[i]
		g.count++
		g.subjects = append(g.subjects, p.Subject)
	}
	for i := range out {
		out[i].age = age(now, out[i].last)
	}
	return out
}

// age formats how long before now t was, in at most 4 cells: "0s", "42s", "5m", "3h";
// "-" when unknown.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := max(now.Sub(t), 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh", int(d.Hours()))
}

// why is the reason without a lead such as "in eth0, replies out eth1: ", which WHERE
// shows.
func (g problemGroup) why() string {
	if _, rest, ok := strings.Cut(g.Reason, ": "); ok {
		return rest
	}
	return g.Reason
}

// problemCols are the columns of the problems view.
var problemCols = []column[problemGroup]{
	{title: "CONTAINER", min: 8, pref: 12, max: 14, keepTail: true,
		cell: func(g problemGroup, _ int) string { return g.Container },
		cmp: func(a, b problemGroup) int {
			return cmp.Or(cmp.Compare(a.Container, b.Container), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Where, b.Where), cmp.Compare(a.Reason, b.Reason))
		}},
	{title: "PROBLEM", min: 10, cell: func(g problemGroup, _ int) string { return string(g.Kind) },
		cmp: func(a, b problemGroup) int { return cmp.Compare(a.Kind, b.Kind) }},
	{title: "WHERE", min: 9, pref: 16, max: 16, cell: func(g problemGroup, _ int) string { return g.Where }},
	{title: "N", min: 4, right: true, desc: true,
		cell: func(g problemGroup, _ int) string { return countRate(float64(g.count), true) },
		cmp:  func(a, b problemGroup) int { return cmp.Compare(a.count, b.count) }},
	{title: "SEEN", min: 5, right: true, desc: true,
		cell: func(g problemGroup, _ int) string { return g.age },
		// By the second, so that groups active together keep their order (by name).
		cmp: func(a, b problemGroup) int { return a.last.Truncate(time.Second).Compare(b.last.Truncate(time.Second)) }},
	{title: "WHY", min: 10, pref: 20, cell: func(g problemGroup, _ int) string { return g.why() }},
}

// groupDetail is one group in full: what and how many, then indented: examples, why,
// the fix.
func groupDetail(st Styles, g problemGroup, w int) []string {
	what := fmt.Sprintf("%s %s %s", g.Container, g.Kind, g.Where)
	if g.count > 1 {
		what += fmt.Sprintf(" · %d %s", g.count, g.Kind.noun())
	}
	out := styleAll(st.Problem, wrap(what, w, 2))
	eg := "e.g. "
	if g.count == 1 {
		eg = ""
	}
	out = append(out, ansi.Truncate("  "+eg+strings.Join(g.subjects, ", "), w, "…"))
	for _, l := range wrap("why: "+g.Reason, w-2, 5) {
		out = append(out, "  "+l)
	}
	if g.Fix != "" {
		for _, l := range wrap("fix: "+g.Fix, w-2, 5) {
			out = append(out, "  "+l)
		}
	}
	return out
}
