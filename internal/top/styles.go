package top

import (
	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// Styles are the looks of the view. Without color (NO_COLOR, see NoColor) only bold,
// underline and reverse are used, which https://no-color.org allows.
type Styles struct {
	Title, Tab, ActiveTab lipgloss.Style
	Header, Selected      lipgloss.Style
	Problem, Paused, Err  lipgloss.Style
	Dim                   lipgloss.Style
	Help                  help.Styles
}

// NoColor reports whether the environment asks for no color: NO_COLOR set and not
// empty (https://no-color.org). getenv is os.Getenv in the command.
func NoColor(getenv func(string) string) bool { return getenv("NO_COLOR") != "" }

// NewStyles returns the styles, colored or not.
func NewStyles(color bool) Styles {
	s := lipgloss.NewStyle
	st := Styles{
		Title:     s().Bold(true),
		Tab:       s(),
		ActiveTab: s().Bold(true).Reverse(true),
		Header:    s().Bold(true),
		Selected:  s().Reverse(true),
		Problem:   s().Bold(true),
		Paused:    s().Bold(true).Reverse(true),
		Err:       s().Bold(true),
		Dim:       s(),
		Help: help.Styles{Ellipsis: s(), ShortKey: s().Bold(true), ShortDesc: s(), ShortSeparator: s(),
			FullKey: s().Bold(true), FullDesc: s(), FullSeparator: s()},
	}
	if !color {
		return st
	}
	red, yellow, grey, cyan := lipgloss.Color("1"), lipgloss.Color("3"), lipgloss.Color("8"), lipgloss.Color("6")
	st.Title = st.Title.Foreground(cyan)
	st.ActiveTab = s().Bold(true).Foreground(lipgloss.Color("0")).Background(cyan)
	st.Problem = st.Problem.Foreground(red)
	st.Err = st.Err.Foreground(red)
	st.Paused = s().Bold(true).Foreground(lipgloss.Color("0")).Background(yellow)
	st.Dim = st.Dim.Foreground(grey)
	st.Help.ShortDesc, st.Help.FullDesc = st.Help.ShortDesc.Foreground(grey), st.Help.FullDesc.Foreground(grey)
	st.Help.ShortSeparator, st.Help.Ellipsis = st.Help.ShortSeparator.Foreground(grey), st.Help.Ellipsis.Foreground(grey)
	return st
}
