//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"context"
	"slices"

	"github.com/netctl/netctl/internal/docker"
	"github.com/netctl/netctl/netctl"
)

// followDocker runs the Docker view until ctx ends and acts on what it reports, in
// order, on one goroutine: a container started gets its persisted NICs back; a
// container started, renamed or removed has the ports named again; a container removed
// for good drops its persisted NICs; with FollowNetworks, a bridge network created is
// watched and one removed is forgotten.
func (d *Daemon) followDocker(ctx context.Context) {
	view := d.opts.Docker
	changes := make(chan docker.Change, 256)
	defer view.Subscribe(func(c docker.Change) {
		select {
		case changes <- c:
		case <-ctx.Done():
		}
	})()
	view.SetLogger(d.log)
	ran := make(chan struct{})
	go func() { _ = view.Run(ctx); close(ran) }()
	for {
		select {
		case <-ctx.Done():
			<-ran
			return
		case c := <-changes:
			d.onDocker(ctx, c)
		}
	}
}

// onDocker acts on one change of the Docker view.
func (d *Daemon) onDocker(ctx context.Context, c docker.Change) {
	dp := d.opts.Datapath
	switch c.Kind {
	case docker.ContainerStarted:
		dp.ForgetNames()
		d.log.Debug("container started", "container", c.Container.Name, "id", short(c.Container.ID), "pid", c.Container.State.Pid)
		d.reapply(ctx, c.Container)
	case docker.ContainerStopped:
		dp.ForgetNames()
	case docker.ContainerRenamed:
		dp.ForgetNames()
		d.log.Info("container renamed", "container", c.Container.Name, "was", c.OldName)
		d.reapplyCount.Forget(c.OldName)
		d.trackPersisted(c.Container)
	case docker.ContainerRemoved:
		dp.ForgetNames()
		d.dropPersisted(c.Container)
	case docker.NetworkCreated:
		d.followNetwork(ctx, c.Network)
	case docker.NetworkRemoved:
		if br := c.Network.Bridge(); br != "" && d.opts.FollowNetworks && slices.Contains(dp.Bridges(), br) {
			dp.ForgetBridge(br)
			d.log.Info("bridge no longer watched: its network was removed", "network", c.Network.Name, "bridge", br)
		}
	case docker.Synced:
		d.syncNetworks(ctx)
		d.syncPersisted(ctx)
	}
}

// followNetwork watches the bridge of a Docker network (FollowNetworks), attaching its
// ports; a network whose bridge is not in the host namespace is left out.
func (d *Daemon) followNetwork(ctx context.Context, n docker.Network) {
	dp := d.opts.Datapath
	br := n.Bridge()
	if br == "" || !d.opts.FollowNetworks || slices.Contains(dp.Bridges(), br) {
		return
	}
	at, err := dp.AttachBridge(ctx, br)
	if err != nil {
		d.log.Debug("docker network not followed", "network", n.Name, "bridge", br, "err", err)
		return
	}
	d.log.Info("watching bridge", "network", n.Name, "bridge", br)
	for _, a := range at {
		d.logAttach(a)
	}
}

// syncNetworks, after the view listed everything (FollowNetworks): the bridges of
// networks created meanwhile are watched, those of networks removed are not.
func (d *Daemon) syncNetworks(ctx context.Context) {
	if !d.opts.FollowNetworks {
		return
	}
	nets, err := d.opts.Docker.Networks(ctx)
	if err != nil {
		return
	}
	live := docker.Bridges(nets)
	for _, br := range d.opts.Datapath.Bridges() {
		if !slices.Contains(live, br) && br != netctl.DefaultBridge {
			d.opts.Datapath.ForgetBridge(br)
			d.log.Info("bridge no longer watched: its network was removed", "bridge", br)
		}
	}
	for _, n := range nets {
		d.followNetwork(ctx, n)
	}
}

func short(id string) string { return id[:min(12, len(id))] }
