package netctl

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// LockTimeout is how long a NIC change waits for another one on the same container.
var LockTimeout = 10 * time.Second

// DefaultARPProbeWait is how long Add waits for an ARP reply to its probe of each new
// IPv4 address. Bridge ports on a Docker host are local veths that answer within
// microseconds; raise it for a bridge with a slow uplink.
const DefaultARPProbeWait = 100 * time.Millisecond

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
		host = HostNameFor(e.Ctr.Inode, spec.Name)
	}
	p, err := BuildPlan(spec, obs, host)
	if err != nil {
		return Plan{}, err
	}
	p.Container = e.Ctr.Label
	return p, nil
}

// Add gives the container a new NIC as spec says, atomically: it validates everything,
// records the plan, applies it, and on any failure undoes what it did and removes the
// record. With DryRun it returns the plan and changes nothing.
func (e *Env) Add(spec Spec, opt AddOptions) (Plan, error) {
	if opt.DryRun {
		return e.Plan(spec)
	}
	unlock, err := Lock(e.Ctr.Inode, LockTimeout)
	if err != nil {
		return Plan{}, err
	}
	defer unlock()

	if r, err := ReadRecord(e.Ctr.Inode, spec.Name); err == nil {
		if e.recordLive(r) {
			return Plan{}, fmt.Errorf("%s already has %s made by netctl (host side %s); nic del first", e.Ctr.Label, spec.Name, r.Plan.HostName)
		}
		_ = RemoveRecord(e.Ctr.Inode, spec.Name) // stale: its namespace or veth is gone
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
	if err := WriteRecord(rec); err != nil {
		return Plan{}, err
	}
	fail := -1
	if opt.injected {
		fail = opt.failBefore
	}
	if err := e.Apply(p, fail); err != nil {
		var se *StepError
		if errors.As(err, &se) && se.Rollback == nil {
			_ = RemoveRecord(e.Ctr.Inode, spec.Name)
		}
		return Plan{}, err
	}
	rec.Complete = true
	if err := WriteRecord(rec); err != nil {
		return p, err
	}
	return p, nil
}

// recordLive reports whether a record still describes a NIC that exists: its host veth
// is there with netctl's alias for this namespace and name. A record whose namespace
// died (container restarted, inode reused) fails this test.
func (e *Env) recordLive(r *Record) bool {
	l, err := e.HostNL.LinkByName(r.Plan.HostName)
	if err != nil || l.Attrs().Alias != fmt.Sprintf("netctl:%d:%s", e.Ctr.Inode, r.Plan.Spec.Name) {
		return false
	}
	_, err = e.CtrNL.LinkByName(r.Plan.Spec.Name)
	return err == nil
}

// DelResult says what Del did.
type DelResult struct {
	Removed bool   `json:"removed"`
	Name    string `json:"name"`
	Host    string `json:"host_name,omitempty"`
	Note    string `json:"note,omitempty"`
	Plan    *Plan  `json:"plan,omitempty"`
}

// Del removes the NIC name that Add made and restores what Add changed (default route,
// rules, tables, sysctls), in reverse order. Nothing to remove is success.
func (e *Env) Del(name string) (DelResult, error) {
	res := DelResult{Name: name}
	if err := ValidIfName(name); err != nil {
		return res, fmt.Errorf("invalid --name: %w", err)
	}
	unlock, err := Lock(e.Ctr.Inode, LockTimeout)
	if err != nil {
		return res, err
	}
	defer unlock()

	r, err := ReadRecord(e.Ctr.Inode, name)
	if errors.Is(err, os.ErrNotExist) {
		if _, lerr := e.CtrNL.LinkByName(name); lerr == nil {
			return res, fmt.Errorf("%s in %s was not made by netctl (no record): left alone", name, e.Ctr.Label)
		}
		res.Note = fmt.Sprintf("%s has no %s made by netctl: nothing to remove", e.Ctr.Label, name)
		return res, nil
	}
	if err != nil {
		return res, err
	}
	res.Host, res.Plan = r.Plan.HostName, &r.Plan
	if r.Plan.NSInode != e.Ctr.Inode {
		return res, fmt.Errorf("record of %s belongs to another namespace (inode %d)", name, r.Plan.NSInode)
	}
	if !e.recordLive(r) {
		// The veth is gone: the namespace was recreated or someone deleted the link.
		// Undoing routes and sysctls now would change a namespace netctl did not touch.
		if err := RemoveRecord(e.Ctr.Inode, name); err != nil {
			return res, err
		}
		res.Note = fmt.Sprintf("%s of %s is gone already (container restarted or link deleted); removed the stale record", name, e.Ctr.Label)
		return res, nil
	}
	if err := e.Undo(r.Plan.Steps); err != nil {
		return res, fmt.Errorf("nic del %s: %w (record kept; run nic del again)", name, err)
	}
	res.Removed = true
	return res, RemoveRecord(e.Ctr.Inode, name)
}
