//go:build linux

package netctl

import "fmt"

// NSView says how a person would reach a namespace from a shell, for --dry-run output:
// `ip -n NAME` for a named netns, `nsenter --net=PATH` otherwise, plain `ip` for the
// namespace netctl runs in.
type NSView struct {
	Name string `json:"name,omitempty"` // named netns under /var/run/netns
	Path string `json:"path,omitempty"` // a namespace file (/proc/PID/ns/net, …)
}

// IP renders an `ip` command run in the namespace.
func (v NSView) IP(format string, a ...any) string {
	args := fmt.Sprintf(format, a...)
	switch {
	case v.Name != "":
		return "ip -n " + v.Name + " " + args
	case v.Path != "":
		return "nsenter --net=" + v.Path + " ip " + args
	}
	return "ip " + args
}

// Sysctl renders `sysctl -w KEY=VALUE` run in the namespace.
func (v NSView) Sysctl(key, value string) string {
	cmd := "sysctl -w " + key + "=" + value
	switch {
	case v.Name != "":
		return "ip netns exec " + v.Name + " " + cmd
	case v.Path != "":
		return "nsenter --net=" + v.Path + " " + cmd
	}
	return cmd
}

// NetnsArg is what `ip link … netns X` takes for this namespace (a name or a path).
func (v NSView) NetnsArg() string {
	if v.Name != "" {
		return v.Name
	}
	return v.Path
}
