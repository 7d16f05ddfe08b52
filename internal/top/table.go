package top

import (
	"slices"
	"strings"
)

// column is one column of a view's table: how wide, how a cell reads, how it sorts.
type column[T any] struct {
	title          string
	min, pref, max int  // widths in cells; max 0: min when pref is 0, else as wide as there is room
	right          bool // right-aligned (numbers)
	keepTail       bool // cut at the start when too long
	drop           int  // > 0: left out when the terminal is narrow, highest first
	cell           func(r T, w int) string
	cmp            func(a, b T) int // nil: not a sort column
	desc           bool             // sorts largest first
}

// gap is the space between two columns.
const gap = 1

// layout gives each column its width for a terminal total cells wide; 0 means the
// column is left out. Columns that may drop go, highest drop first, while the preferred
// widths do not fit; then every column gets its min, the flexible ones grow towards
// their preferred width in order, then towards their max, and whatever is left goes to
// the last column without a max. It is pure.
func layout(mins, prefs, maxs, drops []int, total int) []int {
	n := len(mins)
	w := make([]int, n)
	on := make([]bool, n)
	for i := range on {
		on[i] = true
	}
	sum := func(vals []int) int {
		s, k := 0, 0
		for i, v := range vals {
			if on[i] {
				s += v
				k++
			}
		}
		return s + max(k-1, 0)*gap
	}
	for sum(prefs) > total {
		worst := -1
		for i, d := range drops {
			if on[i] && d > 0 && (worst < 0 || d > drops[worst]) {
				worst = i
			}
		}
		if worst < 0 {
			break
		}
		on[worst] = false
	}
	for i := range w {
		if on[i] {
			w[i] = mins[i]
		}
	}
	left := total - sum(w)
	grow := func(target func(i int) int) {
		for i := range w {
			if !on[i] || left <= 0 {
				continue
			}
			add := min(max(target(i)-w[i], 0), left)
			w[i] += add
			left -= add
		}
	}
	grow(func(i int) int { return prefs[i] })
	grow(func(i int) int {
		if maxs[i] == 0 {
			return w[i]
		}
		return maxs[i]
	})
	for i := n - 1; i >= 0 && left > 0; i-- {
		if on[i] && maxs[i] == 0 {
			w[i] += left
			left = 0
		}
	}
	return w
}

// widths lays out cols for a terminal total cells wide.
func widths[T any](cols []column[T], total int) []int {
	var mins, prefs, maxs, drops []int
	for _, c := range cols {
		mx := c.max
		if mx == 0 && c.pref == 0 {
			mx = c.min // a fixed width
		}
		mins, prefs, maxs, drops = append(mins, c.min), append(prefs, max(c.pref, c.min)), append(maxs, mx), append(drops, c.drop)
	}
	return layout(mins, prefs, maxs, drops, total)
}

// sortColumns returns the indexes of the columns a view sorts by.
func sortColumns[T any](cols []column[T]) []int {
	var out []int
	for i, c := range cols {
		if c.cmp != nil {
			out = append(out, i)
		}
	}
	return out
}

// columnIndex returns the index of the column titled title, or 0.
func columnIndex[T any](cols []column[T], title string) int {
	return max(slices.IndexFunc(cols, func(c column[T]) bool { return c.title == title }), 0)
}

// sortRows sorts rows by column by (largest first when the column says so, the other way
// round with reverse), ties by the first sort column ascending. It is stable.
func sortRows[T any](rows []T, cols []column[T], by int, reverse bool) {
	if by < 0 || by >= len(cols) || cols[by].cmp == nil {
		return
	}
	primary, tie := cols[by].cmp, cols[sortColumns(cols)[0]].cmp
	flip := cols[by].desc != reverse
	slices.SortStableFunc(rows, func(a, b T) int {
		c := primary(a, b)
		if flip {
			c = -c
		}
		if c != 0 {
			return c
		}
		return tie(a, b)
	})
}

// header renders the titles in their widths, the sort column marked ▼ (largest first)
// or ▲.
func header[T any](cols []column[T], w []int, by int, reverse bool) string {
	var cells []string
	for i, c := range cols {
		if w[i] == 0 {
			continue
		}
		t := c.title
		if i == by {
			if c.desc != reverse {
				t += "▼"
			} else {
				t += "▲"
			}
		}
		cells = append(cells, fit(t, w[i], c.right, false))
	}
	return strings.Join(cells, strings.Repeat(" ", gap))
}

// row renders one row in the widths.
func row[T any](cols []column[T], w []int, r T) string {
	var cells []string
	for i, c := range cols {
		if w[i] == 0 {
			continue
		}
		cells = append(cells, fit(c.cell(r, w[i]), w[i], c.right, c.keepTail))
	}
	return strings.Join(cells, strings.Repeat(" ", gap))
}

// window returns the first row to show so that row sel is among the h shown.
func window(sel, n, h int) int {
	if h <= 0 || n <= h {
		return 0
	}
	return min(max(sel-h+1, 0), n-h)
}
