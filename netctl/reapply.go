//go:build linux

package netctl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/docker"
)

// DefaultReapplyRetry is how long Reapply tries again an add that failed before changing
// anything: just after a restart the old namespace may still be dying, its NIC still
// answering for the address.
const DefaultReapplyRetry = 2 * time.Second

// ReapplyOptions tune Reapply.
type ReapplyOptions struct {
	Store  PersistStore
	Env    EnvOptions
	Docker *docker.View  // resolves network names (nil: docker.DefaultView())
	Retry  time.Duration // 0: DefaultReapplyRetry
}

// ReapplyResult says what Reapply did with one persisted NIC.
type ReapplyResult struct {
	Persisted
	Container string // the container's name now
	Applied   bool   // added again
	Present   bool   // already there: nothing to do
	Plan      Plan
	Err       error
}

// Reapply puts back on the running Docker container id each persisted NIC it lacks, as
// `nic add` would (same name, addresses, routes, ARP guard, source routing). A NIC
// already there is left alone. The error is for the container as a whole (it cannot be
// resolved); each NIC's own failure is in its result.
func Reapply(ctx context.Context, host netns.NsHandle, hostView NSView, id string, opts ReapplyOptions) ([]ReapplyResult, error) {
	recs, err := opts.Store.Container(id)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	c, err := Resolve(ctx, Ref{RefDocker, id})
	if err != nil {
		return nil, err
	}
	env, err := NewEnv(host, hostView, c, opts.Env)
	if err != nil {
		c.Close()
		return nil, err
	}
	defer env.Close()
	out := make([]ReapplyResult, 0, len(recs))
	for _, p := range recs {
		out = append(out, env.reapplyOne(ctx, p, opts))
	}
	return out, nil
}

func (e *Env) reapplyOne(ctx context.Context, p Persisted, opts ReapplyOptions) ReapplyResult {
	r := ReapplyResult{Persisted: p, Container: e.Ctr.Label}
	if _, err := e.CtrNL.LinkByName(p.Spec.Name); err == nil {
		if rec, err := e.store.read(e.Ctr.Cookie, p.Spec.Name); err == nil && e.recordLive(rec) {
			r.Present = true
			return r
		}
		r.Err = fmt.Errorf("%s has an interface %s that netctl did not make: left alone", e.Ctr.Label, p.Spec.Name)
		return r
	}
	deadline := time.Now().Add(cmp.Or(opts.Retry, DefaultReapplyRetry))
	for {
		spec := p.Spec
		spec.Bridge, r.Err = ResolveBridge(ctx, e.HostNL, p.Bridge, opts.Docker)
		if r.Err == nil {
			r.Plan, r.Err = e.Add(spec, AddOptions{})
		}
		var se *StepError
		if r.Err == nil || errors.As(r.Err, &se) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.Applied = r.Err == nil
	return r
}
