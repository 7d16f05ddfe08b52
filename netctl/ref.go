//go:build linux

package netctl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// RefKind says how a container reference names its network namespace.
type RefKind string

// Kinds of container reference: docker:NAME|ID, netns:NAME, pid:PID, a path, or a bare word.
const (
	RefDocker RefKind = "docker" // docker:NAME|ID|ID-prefix, through the Engine API
	RefNetns  RefKind = "netns"  // netns:NAME, a file under /var/run/netns
	RefPID    RefKind = "pid"    // pid:PID, /proc/PID/ns/net
	RefPath   RefKind = "path"   // a namespace file such as /var/run/docker/netns/abc
)

// Ref is a parsed container reference.
type Ref struct {
	Kind  RefKind `json:"kind"`
	Value string  `json:"value"`
}

func (r Ref) String() string {
	if r.Kind == RefPath {
		return r.Value
	}
	return string(r.Kind) + ":" + r.Value
}

// ParseRef parses a container reference. A bare word is a named netns when
// namedExists(word) says so, else a Docker container.
func ParseRef(s string, namedExists func(string) bool) (Ref, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Ref{}, errors.New("empty container reference: want docker:NAME, netns:NAME, pid:PID or a namespace path")
	}
	if strings.HasPrefix(s, "/") {
		return Ref{RefPath, s}, nil
	}
	kind, val, ok := strings.Cut(s, ":")
	if !ok {
		if namedExists != nil && namedExists(s) {
			return Ref{RefNetns, s}, nil
		}
		return Ref{RefDocker, s}, nil
	}
	if val == "" {
		return Ref{}, fmt.Errorf("container reference %q: nothing after %q", s, kind+":")
	}
	switch RefKind(kind) {
	case RefDocker:
		return Ref{RefDocker, val}, nil
	case RefNetns:
		if strings.Contains(val, "/") || val == "." || val == ".." {
			return Ref{}, fmt.Errorf("container reference %q: a netns name has no '/' (give a path without netns: instead)", s)
		}
		return Ref{RefNetns, val}, nil
	case RefPID:
		pid, err := strconv.Atoi(val)
		if err != nil || pid <= 0 {
			return Ref{}, fmt.Errorf("container reference %q: PID must be a positive number", s)
		}
		return Ref{RefPID, val}, nil
	}
	return Ref{}, fmt.Errorf("container reference %q: unknown kind %q (want docker:, netns:, pid: or a path)", s, kind)
}
