//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/netctl/netctl/internal/docker"
	"github.com/netctl/netctl/internal/nsutil"
	"github.com/netctl/netctl/netctl"
)

// resolveNicBridge turns nic add's --bridge (a bridge or a Docker network) into the
// bridge of the host namespace -n selects.
func resolveNicBridge(cmd *cobra.Command, g *globalOptions, given string) (string, error) {
	if given == "" {
		return "", nil // Validate says what is missing
	}
	if err := requireNetAdmin("nic add"); err != nil {
		return "", err
	}
	host, _, err := openHost(g)
	if err != nil {
		return "", err
	}
	defer host.Close()
	nl, err := nsutil.Handle(host)
	if err != nil {
		return "", fmt.Errorf("netlink in the host namespace: %w", err)
	}
	defer nl.Close()
	return netctl.ResolveBridge(cmd.Context(), nl, given, nil)
}

// savePersisted records the NIC just added for serve to put back after a restart. The
// MAC the kernel chose is kept, so the NIC comes back as peers knew it.
func savePersisted(g *globalOptions, env *netctl.Env, spec netctl.Spec, bridge string) error {
	if spec.MAC == nil {
		if l, err := env.CtrNL.LinkByName(spec.Name); err == nil {
			spec.MAC = l.Attrs().HardwareAddr
		}
	}
	return netctl.PersistStore{Dir: g.persistDir}.Save(netctl.Persisted{
		ContainerID: env.Ctr.ID, Container: env.Ctr.Label, Bridge: bridge, Spec: spec, CreatedAt: time.Now().UTC(),
	})
}

// unpersistStopped removes the persisted record of NIC name of a stopped Docker
// container (nic del while it is not running).
func unpersistStopped(cmd *cobra.Command, g *globalOptions, ref, name string) error {
	r, err := netctl.ParseRef(ref, nsutil.Exists)
	if err != nil || r.Kind != netctl.RefDocker {
		return nil
	}
	c, err := docker.Default()
	if err != nil {
		return nil
	}
	d, err := c.Inspect(cmd.Context(), r.Value)
	if err != nil {
		return nil
	}
	removed, err := netctl.PersistStore{Dir: g.persistDir}.Remove(d.ID, name)
	if err != nil {
		return err
	}
	if removed {
		fmt.Fprintf(cmd.OutOrStdout(), "removed the persisted record of %s: serve no longer puts it back\n", name)
	}
	return nil
}

// withPersisted adds the persisted NICs to nic list's rows (only: one container's ID),
// after dropping the records of containers the engine no longer has.
func withPersisted(ctx context.Context, g *globalOptions, rows []netctl.Interface, only string) ([]netctl.Interface, error) {
	store := netctl.PersistStore{Dir: g.persistDir}
	names := map[string]string{}
	if c, err := docker.Default(); err == nil {
		_, _ = store.Prune(func(id string) (bool, bool) {
			d, err := c.Inspect(ctx, id)
			if errors.Is(err, docker.ErrNoSuchContainer) {
				return false, true
			}
			if err != nil {
				return false, false
			}
			names[id] = d.Name
			return true, true
		})
	}
	recs, err := store.All()
	if err != nil {
		return rows, err
	}
	return netctl.WithPersisted(rows, recs, names, only), nil
}
