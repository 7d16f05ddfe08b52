//go:build linux

package netctl

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
)

// LockTimeout is how long a NIC change waits for another one on the same container.
var LockTimeout = 10 * time.Second

// DefaultARPProbeWait is how long Add waits for an ARP reply to its probe of each new
// IPv4 address. Bridge ports on a Docker host are local veths that answer within
// microseconds; raise it for a bridge with a slow uplink.
const DefaultARPProbeWait = 100 * time.Millisecond

// MaxARPProbeWait bounds the ARP probe's wait: Add holds the container's lock while it
// waits, and a bridge whose hosts take longer to answer is broken anyway.
const MaxARPProbeWait = 5 * time.Second

// CheckARPProbeWait checks a --arp-probe-wait value: 0 (no probe) up to MaxARPProbeWait.
func CheckARPProbeWait(d time.Duration) error {
	if d < 0 || d > MaxARPProbeWait {
		return fmt.Errorf("invalid --arp-probe-wait %s: want 0 (no probe) to %s", d, MaxARPProbeWait)
	}
	return nil
}

// AddOptions tune Add.
type AddOptions struct {
	DryRun bool
	// ARPProbeWait: 0 means DefaultARPProbeWait; negative skips the probe.
	ARPProbeWait time.Duration
	// failBefore injects a failure before that step (tests); -1 or 0-value+unset: none.
	failBefore int
	injected   bool
}

// Plan decides what `nic add` would do, changing nothing. It takes no lock; Add does.
func (e *Env) Plan(spec Spec) (Plan, error) {
	if err := spec.Validate(); err != nil {
		return Plan{}, err
	}
	obs, err := e.Observe(spec)
	if err != nil {
		return Plan{}, err
	}
	host := spec.HostName
	if host == "" {
		host = HostNameFor(e.Ctr.Cookie, spec.Name)
	}
	p, err := BuildPlan(spec, obs, host)
	if err != nil {
		return Plan{}, err
	}
	p.Container, p.ContainerID, p.HostCookie, p.HostView = e.Ctr.Label, e.Ctr.ID, e.HostCookie, e.HostView
	return p, nil
}

// Add gives the container a new NIC as spec says, atomically: it validates everything,
// records the plan (incomplete), applies it, marks the record complete, and on any
// failure undoes what it did and removes the record. A process killed midway leaves
// an incomplete record: the next Add rolls it back first (finishInterrupted), and Del
// finishes the rollback. With DryRun it returns the plan and changes nothing.
func (e *Env) Add(spec Spec, opt AddOptions) (Plan, error) {
	if opt.ARPProbeWait > MaxARPProbeWait {
		return Plan{}, CheckARPProbeWait(opt.ARPProbeWait)
	}
	if opt.DryRun {
		return e.Plan(spec)
	}
	unlock, err := e.store.lock(e.Ctr.Cookie, LockTimeout)
	if err != nil {
		return Plan{}, err
	}
	defer unlock()
	e.pruneStale()

	if err := e.finishInterrupted(); err != nil {
		return Plan{}, err
	}
	if r, err := e.store.read(e.Ctr.Cookie, spec.Name); err == nil {
		if err := e.sameHost(r); err != nil {
			return Plan{}, err
		}
		if e.recordLive(r) {
			return Plan{}, fmt.Errorf("%s already has %s made by netctl (host side %s); nic del first", e.Ctr.Label, spec.Name, r.Plan.HostName)
		}
		_ = e.store.remove(e.Ctr.Cookie, spec.Name) // stale: its veth is gone
	}
	p, err := e.Plan(spec)
	if err != nil {
		return Plan{}, err
	}
	wait := opt.ARPProbeWait
	if wait == 0 {
		wait = DefaultARPProbeWait
	}
	if err := e.checkAddressesFree(spec, wait); err != nil {
		return Plan{}, err
	}
	rec := Record{Plan: p, CreatedAt: time.Now().UTC()}
	if err := e.store.write(rec); err != nil {
		return Plan{}, err
	}
	fail := -1
	if opt.injected {
		fail = opt.failBefore
	}
	if err := e.Apply(p, fail); err != nil {
		var se *StepError
		if errors.As(err, &se) && se.Rollback == nil {
			_ = e.store.remove(e.Ctr.Cookie, spec.Name)
		}
		return Plan{}, err
	}
	rec.Complete = true
	if err := e.store.write(rec); err != nil {
		return p, err
	}
	return p, nil
}

// finishInterrupted rolls back every NIC of the container whose add (or del) did not
// finish, a process killed midway, so that the container is as it was before it:
// what a plan does is undone in reverse (Undo is idempotent and leaves alone what was
// never done), then its record is removed. It runs under the container's lock.
func (e *Env) finishInterrupted() error {
	for _, name := range e.store.names(e.Ctr.Cookie) {
		r, err := e.store.read(e.Ctr.Cookie, name)
		if err != nil || r.Complete || e.sameHost(r) != nil {
			continue
		}
		if err := e.rollBack(r); err != nil {
			return fmt.Errorf("roll back the interrupted nic add of %s in %s: %w (record kept; nic del %s retries)", name, e.Ctr.Label, err, name)
		}
	}
	return nil
}

// rollBack undoes every step of an incomplete record and removes it.
func (e *Env) rollBack(r *Record) error {
	if err := e.Undo(r.Plan.Steps); err != nil {
		return err
	}
	slog.Info("rolled back an interrupted nic change", "container", e.Ctr.Label, "name", r.Plan.Spec.Name,
		"host_name", r.Plan.HostName, "started", r.CreatedAt)
	return e.store.remove(e.Ctr.Cookie, r.Plan.Spec.Name)
}

// sameHost refuses to act on a record made with another host namespace (-n): the host
// end of its veth lives there, and from here it would look gone.
func (e *Env) sameHost(r *Record) error {
	if r.Plan.HostCookie != 0 && r.Plan.HostCookie != e.HostCookie {
		where := r.Plan.HostView.NetnsArg()
		if where == "" {
			where = "the namespace netctl ran in"
		}
		return fmt.Errorf("%s of %s was added with host namespace %s: give the same -n", r.Plan.Spec.Name, e.Ctr.Label, where)
	}
	return nil
}

// recordLive reports whether a record still describes a NIC that exists: its host veth
// is there with netctl's alias for this namespace and name, and the container end too.
func (e *Env) recordLive(r *Record) bool {
	l, err := e.HostNL.LinkByName(r.Plan.HostName)
	if err != nil || !e.isOurVeth(l, Alias(e.Ctr.Cookie, r.Plan.Spec.Name), r.Plan.Spec.Name) {
		return false
	}
	_, err = e.CtrNL.LinkByName(r.Plan.Spec.Name)
	return err == nil
}

// isOurVeth reports whether host link l is the host end of netctl's NIC: it carries
// netctl's alias, or (netctl died between creating it and naming it) no alias while its
// peer is the container's interface name.
func (e *Env) isOurVeth(l netlink.Link, alias, name string) bool {
	if l.Attrs().Alias == alias {
		return true
	}
	if l.Attrs().Alias != "" || l.Type() != "veth" {
		return false
	}
	c, err := e.CtrNL.LinkByName(name)
	return err == nil && c.Attrs().Index == l.Attrs().ParentIndex && c.Attrs().ParentIndex == l.Attrs().Index
}

// pruneStale removes the records made with this host namespace whose host veth is gone
// (their container stopped or was recreated, and the NIC went with its namespace), and
// what writers killed midway left in the container's folder. It runs under the lock.
func (e *Env) pruneStale() {
	e.store.sweepTemp(e.Ctr.Cookie)
	for _, cookie := range e.store.cookies() {
		for _, name := range e.store.names(cookie) {
			r, err := e.store.read(cookie, name)
			if err != nil || r.Plan.HostCookie != e.HostCookie {
				continue
			}
			l, err := e.HostNL.LinkByName(r.Plan.HostName)
			if isNotFound(err) || (err == nil && l.Attrs().Alias != "" && l.Attrs().Alias != Alias(cookie, name)) {
				if cookie != e.Ctr.Cookie && keepForRestart(r) {
					continue
				}
				_ = e.store.remove(cookie, name)
			}
		}
	}
}

// DelResult says what Del did.
type DelResult struct {
	Removed  bool   `json:"removed"`
	Name     string `json:"name"`
	Host     string `json:"host_name,omitempty"`
	Restored int    `json:"restored,omitempty"` // changes undone
	Note     string `json:"note,omitempty"`
	// Unpersisted: the NIC's --persist record was removed too (set by the caller).
	Unpersisted bool `json:"unpersisted,omitempty"`
}

// Del removes the NIC name that Add made and restores what Add changed (default route,
// rules, tables, sysctls), in reverse order. Nothing to remove is success. What another
// NIC of netctl's in the same container still relies on is handed over to its record
// instead (see handOver).
func (e *Env) Del(name string) (DelResult, error) {
	res := DelResult{Name: name}
	if err := ValidIfName(name); err != nil {
		return res, fmt.Errorf("invalid --name: %w", err)
	}
	unlock, err := e.store.lock(e.Ctr.Cookie, LockTimeout)
	if err != nil {
		return res, err
	}
	defer unlock()
	restarted := e.wentWithOldNamespace(name) // before its record is pruned
	e.pruneStale()

	r, err := e.store.read(e.Ctr.Cookie, name)
	if errors.Is(err, os.ErrNotExist) {
		if _, lerr := e.CtrNL.LinkByName(name); lerr == nil {
			return res, fmt.Errorf("%s in %s was not made by netctl (no record): left alone", name, e.Ctr.Label)
		}
		if restarted {
			e.forgetOldNamespaces(name)
			res.Note = fmt.Sprintf("%s of %s went with its old network namespace when the container restarted: nothing to remove (nic add --persist has netctl serve put it back after a restart)", name, e.Ctr.Label)
			return res, nil
		}
		res.Note = fmt.Sprintf("%s has no %s made by netctl: nothing to remove", e.Ctr.Label, name)
		return res, nil
	}
	if err != nil {
		return res, err
	}
	if err := e.sameHost(r); err != nil {
		return res, err
	}
	res.Host = r.Plan.HostName
	if !r.Complete {
		// Its add (or an earlier del) was interrupted: undo all of it.
		if err := e.rollBack(r); err != nil {
			return res, fmt.Errorf("nic del %s: finish the rollback of an interrupted change: %w (record kept; run nic del again)", name, err)
		}
		res.Removed, res.Restored = true, len(UndoSteps(r.Plan.Steps))
		res.Note = fmt.Sprintf("%s of %s was left half-made by an interrupted netctl; rolled back", name, e.Ctr.Label)
		return res, nil
	}
	if !e.recordLive(r) {
		// The veth is gone: someone deleted the link. Undoing routes and sysctls now
		// could change what others set since.
		if err := e.store.remove(e.Ctr.Cookie, name); err != nil {
			return res, err
		}
		res.Note = fmt.Sprintf("%s of %s is gone already (its link was deleted); removed the stale record", name, e.Ctr.Label)
		return res, nil
	}
	steps, err := e.handOver(r)
	if err != nil {
		return res, err
	}
	// From here the record says "incomplete" with what is left to undo, so that a del
	// killed midway is finished by the next add or del.
	r.Complete, r.Plan.Steps = false, steps
	if err := e.store.write(*r); err != nil {
		return res, err
	}
	if err := e.Undo(steps); err != nil {
		return res, fmt.Errorf("nic del %s: %w (record kept; run nic del again)", name, err)
	}
	res.Removed, res.Restored = true, len(UndoSteps(steps))
	return res, e.store.remove(e.Ctr.Cookie, name)
}

// handOver returns the steps of r to undo, after handing over to the other live NICs
// of netctl's in the container what they still rely on:
//   - the ARP guard: when another NIC shares r's bridge, the guard sysctls that are not
//     r's own interface's stay set; their steps (with the values from before any guard)
//     move to that NIC's record, which restores them when it goes;
//   - the default route: when another NIC later moved the default route away from r's
//     interface, its record would put it back via r's interface, which is about to go;
//     it now puts back the route r replaced instead.
func (e *Env) handOver(r *Record) ([]Step, error) {
	var others []*Record
	for _, name := range e.store.names(e.Ctr.Cookie) {
		if name == r.Plan.Spec.Name {
			continue
		}
		if o, err := e.store.read(e.Ctr.Cookie, name); err == nil && e.recordLive(o) {
			others = append(others, o)
		}
	}
	steps := r.Plan.Steps
	changed := map[*Record]bool{}

	var heir *Record
	for _, o := range others {
		if o.Plan.Spec.Bridge == r.Plan.Spec.Bridge && !o.Plan.Spec.NoARPGuard {
			heir = o
			break
		}
	}
	if heir != nil {
		own := "net.ipv4.conf." + r.Plan.Spec.Name + "."
		var keep, moved []Step
		for _, s := range steps {
			if s.Kind == StepSysctl && !strings.HasPrefix(s.Key, own) {
				moved = append(moved, s)
			} else {
				keep = append(keep, s)
			}
		}
		if len(moved) > 0 {
			// Undone last: before the heir's own steps in its plan.
			heir.Plan.Steps = append(moved, heir.Plan.Steps...)
			changed[heir] = true
		}
		steps = keep
	}

	var keep []Step
	for _, s := range steps {
		if s.Kind != StepRouteDel {
			keep = append(keep, s)
			continue
		}
		taken := false
		for _, o := range others {
			for i, os := range o.Plan.Steps {
				if os.Kind == StepRouteDel && os.Route.Dev == r.Plan.Spec.Name && os.Route.Dst == s.Route.Dst {
					rt := *s.Route
					o.Plan.Steps[i].Route = &rt
					changed[o], taken = true, true
				}
			}
		}
		if !taken {
			keep = append(keep, s)
		}
	}
	for o := range changed {
		if err := e.store.write(*o); err != nil {
			return nil, fmt.Errorf("hand over to %s: %w", o.Plan.Spec.Name, err)
		}
	}
	return keep, nil
}
