package top

import "charm.land/bubbles/v2/key"

// keyMap is every key top answers to; it is also the help's content.
type keyMap struct {
	Interfaces, Flows, Problems, Next, Prev key.Binding
	Sort, Reverse, Filter, Clear            key.Binding
	Up, Down, Top, Bottom                   key.Binding
	Pause, Help, Quit                       key.Binding
}

var keys = keyMap{
	Interfaces: key.NewBinding(key.WithKeys("1"), key.WithHelp("1", "interfaces")),
	Flows:      key.NewBinding(key.WithKeys("2"), key.WithHelp("2", "flows")),
	Problems:   key.NewBinding(key.WithKeys("3"), key.WithHelp("3", "problems")),
	Next:       key.NewBinding(key.WithKeys("tab", "right", "l"), key.WithHelp("tab", "next view")),
	Prev:       key.NewBinding(key.WithKeys("shift+tab", "left", "h"), key.WithHelp("shift+tab", "previous view")),
	Sort:       key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort by next column")),
	Reverse:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reverse order")),
	Filter:     key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter by container")),
	Clear:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
	Up:         key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
	Down:       key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
	Top:        key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "first row")),
	Bottom:     key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "last row")),
	Pause:      key.NewBinding(key.WithKeys("space", "p"), key.WithHelp("space/p", "pause")),
	Help:       key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
	Quit:       key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
}

// ShortHelp is the one-line help at the bottom.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Quit, k.Help, k.Next, k.Sort, k.Filter, k.Pause}
}

// FullHelp is the help screen, in columns.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Interfaces, k.Flows, k.Problems, k.Next, k.Prev},
		{k.Sort, k.Reverse, k.Filter, k.Clear, k.Pause},
		{k.Up, k.Down, k.Top, k.Bottom, k.Help, k.Quit},
	}
}
