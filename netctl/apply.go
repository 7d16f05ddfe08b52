//go:build linux

package netctl

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// StepError says which step of a plan failed, and what rolling back the earlier ones
// left, if anything.
type StepError struct {
	Index    int // 0-based
	Step     Step
	Err      error
	Rollback error // nil when every earlier step was undone
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("step %d (%s): %v", e.Index+1, e.Step.Kind, e.Err)
	if e.Rollback != nil {
		return msg + "; rollback incomplete: " + e.Rollback.Error()
	}
	return msg + "; every earlier step was undone"
}

func (e *StepError) Unwrap() error { return e.Err }

// errInjected is the failure a test injects before a chosen step.
var errInjected = errors.New("injected failure (test)")

// Apply runs the plan's steps in order. When step k fails, steps k-1…1 are undone in
// reverse (each step's own action is all-or-nothing) and a *StepError is returned.
// failBefore ≥ 0 injects a failure before that step, for tests.
func (e *Env) Apply(p Plan, failBefore int) error {
	for i, s := range p.Steps {
		err := errInjected
		if i != failBefore {
			err = e.do(s)
		}
		if err != nil {
			return &StepError{Index: i, Step: s, Err: err, Rollback: e.Undo(p.Steps[:i])}
		}
	}
	return nil
}

// Undo undoes steps in reverse order, leaving out those that deleting the veth undoes
// by itself (see UndoSteps). Undoing what is already gone is success, so Undo is
// idempotent. It goes on after an error and returns them all.
func (e *Env) Undo(steps []Step) error {
	var errs []error
	for _, i := range UndoSteps(steps) {
		if steps[i].Kind == StepVeth && len(errs) > 0 {
			// Keep the veth while something else could not be restored, so that the
			// record stays live and nic del can be run again.
			errs = append(errs, fmt.Errorf("undo step %d (%s): kept until the errors above are fixed", i+1, steps[i].Kind))
			continue
		}
		if err := e.undo(steps[i]); err != nil {
			errs = append(errs, fmt.Errorf("undo step %d (%s): %w", i+1, steps[i].Kind, err))
		}
	}
	return errors.Join(errs...)
}

// UndoSteps returns the indexes of the steps to undo, last first. When the veth is among
// them, the steps that only changed its two ends (addresses, up, bridge port, the new
// interface's own sysctls) are left out: deleting the veth takes them with it, and each
// would cost the kernel a synchronize_net.
func UndoSteps(steps []Step) []int {
	var veth *Step
	for i := range steps {
		if steps[i].Kind == StepVeth {
			veth = &steps[i]
		}
	}
	var out []int
	for i := len(steps) - 1; i >= 0; i-- {
		if veth != nil && goesWithVeth(steps[i], *veth) {
			continue
		}
		out = append(out, i)
	}
	return out
}

// goesWithVeth reports whether deleting veth undoes s by itself.
func goesWithVeth(s, veth Step) bool {
	k, ok := kinds[s.Kind]
	return ok && k.goesWithVeth != nil && k.goesWithVeth(s, veth)
}

// do applies one step.
func (e *Env) do(s Step) error {
	k, ok := kinds[s.Kind]
	if !ok {
		return fmt.Errorf("unknown step kind %q", s.Kind)
	}
	return k.do(e, s)
}

// undo reverts one step.
func (e *Env) undo(s Step) error {
	k, ok := kinds[s.Kind]
	if !ok {
		return fmt.Errorf("unknown step kind %q", s.Kind)
	}
	if k.undo == nil {
		return nil
	}
	return k.undo(e, s)
}

// ignore treats the given errnos (the thing is already gone or already there) as success.
func ignore(err error, errnos ...unix.Errno) error {
	for _, n := range errnos {
		if errors.Is(err, n) {
			return nil
		}
	}
	return err
}
