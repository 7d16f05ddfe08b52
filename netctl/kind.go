//go:build linux

package netctl

// kind is everything netctl knows about one kind of step, in one value: the change in
// the kernel and its undo, and the same two as the commands a person would type
// (--dry-run, `nic add -o json`). A new kind is one more entry in kinds.
type kind struct {
	// do makes the change; it is all-or-nothing.
	do func(e *Env, s Step) error
	// undo reverts it. Undoing what is already gone is success. nil: nothing to undo.
	undo func(e *Env, s Step) error
	// cmd renders do; v is the namespace the step runs in, ctr the container's.
	cmd func(s Step, v, ctr NSView) []string
	// undoCmd renders undo; nil exactly when undo is.
	undoCmd func(s Step, v NSView) []string
	// goesWithVeth reports whether deleting the veth veth undoes s by itself (s changed
	// nothing but the veth's own ends). nil: never.
	goesWithVeth func(s, veth Step) bool
}

// kinds maps Step.Kind, as records store it, to its kind.
var kinds = map[string]kind{
	StepVeth:     vethKind,
	StepAddr:     addrKind,
	StepSysctl:   sysctlKind,
	StepLinkUp:   linkUpKind,
	StepHostPort: hostPortKind,
	StepWaitDAD:  waitDADKind,
	StepRouteDel: routeDelKind,
	StepRouteAdd: routeAddKind,
	StepRuleAdd:  ruleAddKind,
}

// view is the namespace s runs in.
func (s Step) view(host, ctr NSView) NSView {
	if s.NS == InHost {
		return host
	}
	return ctr
}
