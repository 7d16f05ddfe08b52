//go:build linux

package netctl

import "strings"

// Commands renders what a step does as the shell commands a person would type
// (iproute2 and sysctl), for --dry-run.
func (s Step) Commands(host, ctr NSView) []string {
	k, ok := kinds[s.Kind]
	if !ok {
		return []string{"# unknown step " + s.Kind}
	}
	return k.cmd(s, s.view(host, ctr), ctr)
}

// UndoCommands renders a step's undo; nil when it has nothing to undo.
func (s Step) UndoCommands(host, ctr NSView) []string {
	k, ok := kinds[s.Kind]
	if !ok || k.undoCmd == nil {
		return nil
	}
	return k.undoCmd(s, s.view(host, ctr))
}

// Script renders a whole plan, or its undo in reverse order.
func (p Plan) Script(host, ctr NSView, undo bool) string {
	var b strings.Builder
	if !undo {
		for _, s := range p.Steps {
			for _, c := range s.Commands(host, ctr) {
				b.WriteString(c + "\n")
			}
		}
		return b.String()
	}
	for _, i := range UndoSteps(p.Steps) {
		for _, c := range p.Steps[i].UndoCommands(host, ctr) {
			b.WriteString(c + "\n")
		}
	}
	return b.String()
}
