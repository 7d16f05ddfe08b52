package top

import (
	"context"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// View is one of top's views.
type View int

// The views, in tab order.
const (
	ViewInterfaces View = iota
	ViewFlows
	ViewProblems
	numViews
)

// String returns the view's name.
func (v View) String() string {
	return [...]string{"interfaces", "flows", "problems"}[v]
}

// histLen is how many rates an interface's sparkline remembers.
const histLen = 128

// Options configure a Model.
type Options struct {
	Source   Source
	Interval time.Duration // between samples (default 1s)
	Title    string        // what is watched, e.g. "netns netctl-lab-host"
	First    Sample        // a sample already read (the command reads one to fail early)
	Color    bool
}

// Model is top's state: the last frame and what the user chose. Update and View are
// pure given the messages; the Source is only called from the commands Update returns.
type Model struct {
	ctx      context.Context
	src      Source
	interval time.Duration
	title    string

	prev  Sample
	frame Frame
	hist  map[string][]float64
	err   error

	view      View
	sortBy    [numViews]int // column index per view
	reverse   [numViews]bool
	cursor    [numViews]int
	filter    textinput.Model
	filtering bool
	paused    bool
	showHelp  bool
	help      help.Model
	styles    Styles

	width, height int
	gen           int // generation of the refresh loop: ticks of an older one are dropped
}

// tickMsg says the interval of refresh loop gen is over.
type tickMsg struct{ gen int }

// sampleMsg carries a sample read for refresh loop gen.
type sampleMsg struct {
	gen    int
	sample Sample
	err    error
}

// New returns the model, showing opts.First.
func New(ctx context.Context, opts Options) Model {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	m := Model{ctx: ctx, src: opts.Source, interval: opts.Interval, title: opts.Title,
		hist: map[string][]float64{}, help: help.New(), styles: NewStyles(opts.Color), width: 80, height: 24}
	m.sortBy[ViewFlows] = columnIndex(flowCols, "B/s")        // largest first
	m.sortBy[ViewProblems] = columnIndex(problemCols, "SEEN") // most recent first
	m.filter = textinput.New()
	m.filter.Prompt = "filter: "
	m.filter.Placeholder = "container"
	m.filter.CharLimit = 64
	m.help.Styles = m.styles.Help
	m.apply(opts.First)
	return m
}

// Init starts the refresh loop.
func (m Model) Init() tea.Cmd { return m.tick() }

func (m Model) tick() tea.Cmd {
	gen := m.gen
	return tea.Tick(m.interval, func(time.Time) tea.Msg { return tickMsg{gen} })
}

func (m Model) fetch() tea.Cmd {
	gen, src, ctx := m.gen, m.src, m.ctx
	if src == nil {
		return nil
	}
	return func() tea.Msg {
		s, err := src.Sample(ctx)
		return sampleMsg{gen: gen, sample: s, err: err}
	}
}

// apply makes s the current sample: rates since the previous one, sparkline histories.
func (m *Model) apply(s Sample) {
	m.frame = Rates(m.prev, s)
	m.prev = s
	seen := map[string]bool{}
	for _, r := range m.frame.Interfaces {
		k := r.key()
		seen[k] = true
		if r.Known {
			m.hist[k] = append(m.hist[k], r.RxBytesRate+r.TxBytesRate)
			m.hist[k] = m.hist[k][max(len(m.hist[k])-histLen, 0):]
		}
	}
	for k := range m.hist {
		if !seen[k] {
			delete(m.hist, k)
		}
	}
}

// Update handles a message: a key, a resize, the refresh loop.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		return m, nil
	case tickMsg:
		if msg.gen != m.gen || m.paused {
			return m, nil
		}
		return m, m.fetch()
	case sampleMsg:
		if msg.gen != m.gen || m.paused {
			return m, nil
		}
		if m.err = msg.err; msg.err == nil {
			m.apply(msg.sample)
		}
		return m, m.tick()
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	if m.filtering {
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(msg)
		return m, cmd
	}
	return m, nil
}

// key handles a key press.
func (m Model) key(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if m.filtering {
		switch msg.String() {
		case "ctrl+c":
			return m, tea.Quit
		case "enter":
			m.filtering = false
			m.filter.Blur()
			return m, nil
		case "esc":
			m.filtering = false
			m.filter.Blur()
			m.filter.SetValue("")
			return m, nil
		}
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(msg)
		m.cursor = [numViews]int{}
		return m, cmd
	}
	switch {
	case key.Matches(msg, keys.Quit):
		return m, tea.Quit
	case key.Matches(msg, keys.Help):
		m.showHelp = !m.showHelp
		m.help.ShowAll = m.showHelp
	case m.showHelp && msg.String() == "esc":
		m.showHelp, m.help.ShowAll = false, false
	case key.Matches(msg, keys.Interfaces):
		m.view = ViewInterfaces
	case key.Matches(msg, keys.Flows):
		m.view = ViewFlows
	case key.Matches(msg, keys.Problems):
		m.view = ViewProblems
	case key.Matches(msg, keys.Next):
		m.view = (m.view + 1) % numViews
	case key.Matches(msg, keys.Prev):
		m.view = (m.view + numViews - 1) % numViews
	case key.Matches(msg, keys.Sort):
		m.sortBy[m.view] = nextSort(m.sortColumns(), m.sortBy[m.view])
		m.reverse[m.view] = false
	case key.Matches(msg, keys.Reverse):
		m.reverse[m.view] = !m.reverse[m.view]
	case key.Matches(msg, keys.Filter):
		m.filtering = true
		return m, m.filter.Focus()
	case key.Matches(msg, keys.Clear):
		m.filter.SetValue("")
	case key.Matches(msg, keys.Pause):
		m.paused = !m.paused
		m.gen++
		if !m.paused {
			return m, m.fetch() // at once; the rates span the pause
		}
	case key.Matches(msg, keys.Up):
		m.cursor[m.view] = max(m.cursor[m.view]-1, 0)
	case key.Matches(msg, keys.Down):
		m.cursor[m.view] = min(m.cursor[m.view]+1, max(m.rowCount()-1, 0))
	case key.Matches(msg, keys.Top):
		m.cursor[m.view] = 0
	case key.Matches(msg, keys.Bottom):
		m.cursor[m.view] = max(m.rowCount()-1, 0)
	}
	return m, nil
}

// nextSort returns the sort column after cur, wrapping around.
func nextSort(cols []int, cur int) int {
	for _, c := range cols {
		if c > cur {
			return c
		}
	}
	return cols[0]
}

func (m Model) sortColumns() []int {
	switch m.view {
	case ViewFlows:
		return sortColumns(flowCols)
	case ViewProblems:
		return sortColumns(problemCols)
	}
	return sortColumns(ifaceCols)
}

// ifaceRows are the interface rows as shown: filtered and sorted.
func (m Model) ifaceRows() []ifaceRow {
	var rows []ifaceRow
	for _, r := range m.frame.Interfaces {
		if matches(r.Container, m.filter.Value()) {
			rows = append(rows, ifaceRow{InterfaceRate: r, hist: m.hist[r.key()]})
		}
	}
	sortRows(rows, ifaceCols, m.sortBy[ViewInterfaces], m.reverse[ViewInterfaces])
	return rows
}

// flowRows are the flow rows as shown.
func (m Model) flowRows() []FlowRate {
	rows := filtered(m.frame.Flows, func(r FlowRate) string { return r.Container }, m.filter.Value())
	sortRows(rows, flowCols, m.sortBy[ViewFlows], m.reverse[ViewFlows])
	return rows
}

// problemRows are the problem rows as shown: grouped, filtered and sorted.
func (m Model) problemRows() []problemGroup {
	rows := groupProblems(filtered(m.frame.Problems, func(r ProblemRate) string { return r.Container }, m.filter.Value()), m.frame.Time)
	sortRows(rows, problemCols, m.sortBy[ViewProblems], m.reverse[ViewProblems])
	return rows
}

func (m Model) rowCount() int {
	switch m.view {
	case ViewFlows:
		return len(m.flowRows())
	case ViewProblems:
		return len(m.problemRows())
	}
	return len(m.ifaceRows())
}
