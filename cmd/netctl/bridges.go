package main

import (
	"context"
	"slices"

	"github.com/vishvananda/netlink"

	"github.com/netctl/netctl/netctl"
)

// bridgeFlag is --bridge of attach and serve: Linux bridges or Docker networks, given or
// not.
type bridgeFlag struct {
	values []string
	given  bool
}

// noBridge reports whether --bridge "" (and nothing else) was given: no bridge.
func noBridge(values []string) bool {
	return !slices.ContainsFunc(values, func(v string) bool { return v != "" })
}

// resolve returns the Linux bridges the flag stands for, and whether they are the Docker
// engine's own (the flag not given and the engine answering: serve then follows its
// networks). Given, each value is a bridge or a Docker network; not given, every
// bridge-driver network of the engine, else docker0.
func (b bridgeFlag) resolve(ctx context.Context, hostNL *netlink.Handle) ([]string, bool, error) {
	if !b.given {
		brs, engine := netctl.DockerBridges(ctx, hostNL, nil)
		return brs, engine, nil
	}
	var out []string
	for _, v := range b.values {
		if v == "" {
			continue
		}
		br, err := netctl.ResolveBridge(ctx, hostNL, v, nil)
		if err != nil {
			return nil, false, err
		}
		if !slices.Contains(out, br) {
			out = append(out, br)
		}
	}
	return out, false, nil
}
