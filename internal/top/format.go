package top

import (
	"fmt"
	"math"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// bytesRate formats bytes per second in at most 5 cells: "512B", "1.5kB", "38MB"; "-"
// when unknown.
func bytesRate(v float64, known bool) string {
	if !known {
		return "-"
	}
	return scaled(v, "B", "kB", "MB", "GB", "TB")
}

// countRate formats packets per second in at most 4 cells: "12", "1.5k", "380k"; "-"
// when unknown.
func countRate(v float64, known bool) string {
	if !known {
		return "-"
	}
	return scaled(v, "", "k", "M", "G", "T")
}

// scaled formats v with decimal units: one decimal below 10, none above.
func scaled(v float64, units ...string) string {
	i := 0
	for v >= 999.5 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if i > 0 && v < 9.95 {
		return fmt.Sprintf("%.1f%s", v, units[i])
	}
	return fmt.Sprintf("%.0f%s", math.Round(v), units[i])
}

// sparkBlocks are the eight heights of a sparkline cell.
var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the last width values, the largest of them full height; zero is a
// blank, anything above zero at least the lowest block. Fewer values leave the left
// blank.
func sparkline(values []float64, width int) string {
	if width <= 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	var most float64
	for _, v := range values {
		most = max(most, v)
	}
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", width-len(values)))
	for _, v := range values {
		if v <= 0 || most <= 0 {
			b.WriteByte(' ')
			continue
		}
		i := int(math.Ceil(v/most*float64(len(sparkBlocks)))) - 1
		b.WriteRune(sparkBlocks[min(max(i, 0), len(sparkBlocks)-1)])
	}
	return b.String()
}

// fit pads or cuts s to exactly w cells: cut at the end with "…", or, with keepTail, at
// the start (container names differ at their end: …-container1).
func fit(s string, w int, right, keepTail bool) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > w {
		if keepTail {
			s = ansi.TruncateLeft(s, ansi.StringWidth(s)-w+1, "…")
		} else {
			s = ansi.Truncate(s, w, "…")
		}
	}
	pad := strings.Repeat(" ", w-ansi.StringWidth(s))
	if right {
		return pad + s
	}
	return s + pad
}

// wrap breaks text into lines of at most w cells at spaces (a longer word is cut),
// indenting the lines after the first by indent spaces.
func wrap(text string, w, indent int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case ansi.StringWidth(line)+1+ansi.StringWidth(word) <= w:
			line += " " + word
		default:
			lines = append(lines, ansi.Truncate(line, w, "…"))
			line = strings.Repeat(" ", indent) + word
		}
	}
	if line != "" {
		lines = append(lines, ansi.Truncate(line, w, "…"))
	}
	return lines
}
