package top

import (
	"cmp"
	"strings"
)

// ifaceRow is an interface with its recent throughput, for the sparkline.
type ifaceRow struct {
	InterfaceRate
	hist []float64 // receive + transmit bytes per second, oldest first
}

func byRate(get func(ifaceRow) float64) func(a, b ifaceRow) int {
	return func(a, b ifaceRow) int { return cmp.Compare(get(a), get(b)) }
}

// ifaceCols are the columns of the interfaces view.
var ifaceCols = []column[ifaceRow]{
	{title: "CONTAINER", min: 10, pref: 20, max: 24, keepTail: true,
		cell: func(r ifaceRow, _ int) string { return r.Container },
		cmp: func(a, b ifaceRow) int {
			return cmp.Or(cmp.Compare(a.Container, b.Container), cmp.Compare(a.Name, b.Name), cmp.Compare(a.HostInterface, b.HostInterface))
		}},
	{title: "IFACE", min: 5, pref: 6, max: 8, cell: func(r ifaceRow, _ int) string { return r.Name }},
	{title: "RX B/s", min: 7, right: true, desc: true,
		cell: func(r ifaceRow, _ int) string { return bytesRate(r.RxBytesRate, r.Known) },
		cmp:  byRate(func(r ifaceRow) float64 { return r.RxBytesRate })},
	{title: "RX p/s", min: 6, right: true, desc: true, drop: 1,
		cell: func(r ifaceRow, _ int) string { return countRate(r.RxPacketsRate, r.Known) },
		cmp:  byRate(func(r ifaceRow) float64 { return r.RxPacketsRate })},
	{title: "TX B/s", min: 7, right: true, desc: true,
		cell: func(r ifaceRow, _ int) string { return bytesRate(r.TxBytesRate, r.Known) },
		cmp:  byRate(func(r ifaceRow) float64 { return r.TxBytesRate })},
	{title: "TX p/s", min: 6, right: true, desc: true, drop: 1,
		cell: func(r ifaceRow, _ int) string { return countRate(r.TxPacketsRate, r.Known) },
		cmp:  byRate(func(r ifaceRow) float64 { return r.TxPacketsRate })},
	{title: "RX+TX", min: 6, pref: 16, drop: 2, cell: func(r ifaceRow, w int) string { return sparkline(r.hist, w) }},
}

// flowCols are the columns of the flows view.
var flowCols = []column[FlowRate]{
	{title: "CONTAINER", min: 8, pref: 14, max: 24, keepTail: true,
		cell: func(r FlowRate, _ int) string { return r.Container },
		cmp: func(a, b FlowRate) int {
			return cmp.Or(cmp.Compare(a.Container, b.Container), cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.Direction, b.Direction),
				cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Src, b.Src), cmp.Compare(a.Dst, b.Dst))
		}},
	{title: "IFACE", min: 4, pref: 5, max: 8, cell: func(r FlowRate, _ int) string { return r.Interface }},
	{title: "DIR", min: 3, cell: func(r FlowRate, _ int) string { return r.Direction }},
	{title: "PROTO", min: 4, pref: 5, max: 6, cell: func(r FlowRate, _ int) string { return r.Proto }},
	{title: "SOURCE", min: 12, pref: 21, max: 46, cell: func(r FlowRate, _ int) string { return r.Src }},
	{title: "DESTINATION", min: 12, pref: 21, max: 46, cell: func(r FlowRate, _ int) string { return r.Dst }},
	{title: "B/s", min: 6, right: true, desc: true,
		cell: func(r FlowRate, _ int) string { return bytesRate(r.BytesRate, r.Known) },
		cmp:  func(a, b FlowRate) int { return cmp.Compare(a.BytesRate, b.BytesRate) }},
	{title: "p/s", min: 5, right: true, desc: true, drop: 1,
		cell: func(r FlowRate, _ int) string { return countRate(r.PacketsRate, r.Known) },
		cmp:  func(a, b FlowRate) int { return cmp.Compare(a.PacketsRate, b.PacketsRate) }},
}

// matches reports whether a row of container passes the filter (a case-insensitive
// substring; empty passes all).
func matches(container, filter string) bool {
	return filter == "" || strings.Contains(strings.ToLower(container), strings.ToLower(filter))
}

// filtered returns the rows of f whose container passes filter.
func filtered[T any](rows []T, container func(T) string, filter string) []T {
	out := make([]T, 0, len(rows))
	for _, r := range rows {
		if matches(container(r), filter) {
			out = append(out, r)
		}
	}
	return out
}
