//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"context"
	"slices"

	"github.com/vishvananda/netlink"

	"github.com/netctl/netctl/internal/docker"
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

// dockerView returns the process's Docker view when the engine answers (nil otherwise:
// a host without Docker is not asked again and again).
func (s *session) dockerView() *docker.View {
	if s.engine == nil {
		v := docker.DefaultView()
		ctx, cancel := context.WithTimeout(context.Background(), docker.CallTimeout)
		defer cancel()
		_, err := v.Networks(ctx)
		s.engine = &err
	}
	if *s.engine != nil {
		return nil
	}
	return docker.DefaultView()
}
