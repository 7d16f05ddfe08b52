//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"context"
	"time"

	"github.com/netctl/netctl/internal/docker"
	"github.com/netctl/netctl/netctl"
)

// reapply puts back the persisted NICs that the container c lacks (it started again,
// in a new namespace), logging and counting each.
func (d *Daemon) reapply(ctx context.Context, c docker.Container) {
	if !d.opts.Reapply {
		return
	}
	start := time.Now()
	res, err := netctl.Reapply(ctx, d.opts.Host, netctl.NSView{}, c.ID, netctl.ReapplyOptions{
		Store: d.persist(), Env: netctl.EnvOptions{StateDir: d.opts.StateDir}, Docker: d.opts.Docker,
	})
	if err != nil {
		if recs, _ := d.persist().Container(c.ID); len(recs) > 0 {
			d.reapplyCount.Failed(c.Name)
			d.log.Error("persisted NICs not put back", "container", c.Name, "err", err)
		}
		return
	}
	for _, r := range res {
		switch {
		case r.Err != nil:
			d.reapplyCount.Failed(r.Container)
			d.log.Error("persisted NIC not put back", "container", r.Container, "interface", r.Spec.Name, "err", r.Err)
		case r.Applied:
			d.reapplyCount.Reapplied(r.Container)
			d.log.Info("persisted NIC put back", "container", r.Container, "interface", r.Spec.Name,
				"host_interface", r.Plan.HostName, "bridge", r.Plan.Spec.Bridge, "took", time.Since(start).Round(time.Millisecond))
		}
	}
}

func (d *Daemon) persist() netctl.PersistStore { return netctl.PersistStore{Dir: d.opts.PersistDir} }

// trackPersisted starts the counters of a container with persisted NICs at 0.
func (d *Daemon) trackPersisted(c docker.Container) {
	if recs, _ := d.persist().Container(c.ID); len(recs) > 0 && d.opts.Reapply {
		d.reapplyCount.Track(c.Name)
	}
}

// dropPersisted forgets a container removed for good: its persisted NICs and its series.
func (d *Daemon) dropPersisted(c docker.Container) {
	d.reapplyCount.Forget(c.Name)
	n, err := d.persist().RemoveContainer(c.ID)
	if err != nil {
		d.log.Error("remove the persisted NICs of a removed container", "container", c.Name, "err", err)
	} else if n > 0 {
		d.log.Info("container removed: its persisted NICs forgotten", "container", c.Name, "nics", n)
	}
}

// syncPersisted, after the view listed everything: the records of containers removed
// meanwhile go; the running containers with persisted NICs get those they lack (they
// restarted while serve was not running, or its events stream was down).
func (d *Daemon) syncPersisted(ctx context.Context) {
	if !d.opts.Reapply {
		return
	}
	pruned, err := d.persist().Prune(d.opts.Docker.Known)
	if err != nil {
		d.log.Error("prune persisted NICs", "err", err)
	}
	for _, p := range pruned {
		d.log.Info("container removed: its persisted NIC forgotten", "container", p.Container, "interface", p.Spec.Name)
	}
	list, err := d.opts.Docker.Containers(ctx)
	if err != nil {
		return
	}
	for _, c := range list {
		d.trackPersisted(c)
		d.reapply(ctx, c)
	}
}
