//go:build linux

package netctl

import "strings"

// NSView says how a person would reach a namespace from a shell, for --dry-run output:
// `ip -n NAME` for a named netns, `nsenter --net=PATH` otherwise, plain `ip` for the
// namespace netctl runs in.
type NSView struct {
	Name string `json:"name,omitempty"` // named netns under /var/run/netns
	Path string `json:"path,omitempty"` // a namespace file (/proc/PID/ns/net, …)
}

// IP renders an `ip` command with args run in the namespace, every word quoted for a
// shell where it needs it (Quote).
func (v NSView) IP(args ...string) string {
	switch {
	case v.Name != "":
		return command(append([]string{"ip", "-n", v.Name}, args...))
	case v.Path != "":
		return command(append([]string{"nsenter", "--net=" + v.Path, "ip"}, args...))
	}
	return command(append([]string{"ip"}, args...))
}

// Sysctl renders `sysctl -w KEY=VALUE` run in the namespace.
func (v NSView) Sysctl(key, value string) string {
	cmd := []string{"sysctl", "-w", key + "=" + value}
	switch {
	case v.Name != "":
		return command(append([]string{"ip", "netns", "exec", v.Name}, cmd...))
	case v.Path != "":
		return command(append([]string{"nsenter", "--net=" + v.Path}, cmd...))
	}
	return command(cmd)
}

// NetnsArg is what `ip link … netns X` takes for this namespace (a name or a path),
// unquoted.
func (v NSView) NetnsArg() string {
	if v.Name != "" {
		return v.Name
	}
	return v.Path
}

// command joins words into one shell command line, each quoted where it needs it.
func command(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}

// Quote returns s as one word for a POSIX shell: unchanged when it holds only
// characters no shell treats specially, else in single quotes (a ' inside becoming
// '\”), so that --dry-run output pastes safely whatever the names hold.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
