//go:build linux

package netctl

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"

	"github.com/netctl/netctl/internal/docker"
)

// DefaultBridge is the bridge netctl uses when no Docker engine names others.
const DefaultBridge = "docker0"

// ResolveBridge returns the Linux bridge that name stands for in the host namespace
// (hostNL): the link of that name, else the bridge of the Docker network of that name
// or ID (br-… for a user-defined network), asked of view (nil: docker.DefaultView()).
func ResolveBridge(ctx context.Context, hostNL *netlink.Handle, name string, view *docker.View) (string, error) {
	if _, err := hostNL.LinkByName(name); err == nil {
		return name, nil
	} else if !isNotFound(err) {
		return "", fmt.Errorf("look up bridge %s: %w", name, err)
	}
	if view == nil {
		view = docker.DefaultView()
	}
	nets, err := view.Networks(ctx)
	if err != nil {
		return "", fmt.Errorf("bridge %s not found in the host namespace, and no Docker engine to ask for a network of that name: %w", name, err)
	}
	n, ok := docker.FindNetwork(nets, name)
	if !ok {
		return "", fmt.Errorf("bridge %s not found: no such link in the host namespace, and no such Docker network", name)
	}
	br := n.Bridge()
	if br == "" {
		return "", fmt.Errorf("docker network %s uses the %s driver: it has no Linux bridge", n.Name, n.Driver)
	}
	if _, err := hostNL.LinkByName(br); err != nil {
		return "", fmt.Errorf("docker network %s's bridge %s is not in the host namespace (is -n the engine's?)", n.Name, br)
	}
	return br, nil
}

// DockerBridges returns the bridges of the engine's bridge-driver networks that exist in
// the host namespace, and whether the engine answered. With no engine, or none of its
// bridges here, it is DefaultBridge alone.
func DockerBridges(ctx context.Context, hostNL *netlink.Handle, view *docker.View) ([]string, bool) {
	if view == nil {
		view = docker.DefaultView()
	}
	nets, err := view.Networks(ctx)
	if err != nil {
		return []string{DefaultBridge}, false
	}
	var out []string
	for _, br := range docker.Bridges(nets) {
		if _, err := hostNL.LinkByName(br); err == nil {
			out = append(out, br)
		}
	}
	if len(out) == 0 {
		return []string{DefaultBridge}, true
	}
	return out, true
}
