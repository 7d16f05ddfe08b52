//go:build linux

package nstest

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/netctl/netctl/internal/nsutil"
)

// State is what a namespace (a name under /var/run/netns, or a path such as
// /proc/PID/ns/net) looks like to iproute2 — links, addresses, routes of
// every table, rules of both families — plus every IPv4 ARP sysctl, as text. Tests
// compare it before and after an operation to prove nothing changed (or everything was
// restored).
func State(t testing.TB, ns string) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{
		{"-br", "link"}, {"-o", "link"}, {"-o", "addr"},
		{"route", "show", "table", "all"}, {"-6", "route", "show", "table", "all"},
		{"rule"}, {"-6", "rule"},
	} {
		cmd := exec.Command("ip", append([]string{"-n", ns}, args...)...)
		if strings.Contains(ns, "/") {
			cmd = exec.Command("nsenter", append([]string{"--net=" + ns, "ip"}, args...)...)
		}
		// stdout only: iproute2 warns on stderr ("Peer netns reference is invalid")
		// when another test deletes a namespace while the links are listed.
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ip -n %s %v: %v: %s", ns, args, err, stderr.String())
		}
		if args[len(args)-1] == "link" {
			out = withoutOperState(out)
		}
		fmt.Fprintf(&b, "## ip %s\n%s", strings.Join(args, " "), out)
	}
	h, err := nsutil.Open(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	err = nsutil.Do(h, func() error {
		ents, err := os.ReadDir("/proc/sys/net/ipv4/conf")
		if err != nil {
			return err
		}
		for _, e := range ents {
			for _, k := range []string{"arp_ignore", "arp_announce"} {
				v, err := os.ReadFile("/proc/sys/net/ipv4/conf/" + e.Name() + "/" + k)
				if err != nil {
					return err
				}
				fmt.Fprintf(&b, "%s/%s=%s", e.Name(), k, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("sysctls of %s: %v", ns, err)
	}
	return b.String()
}

// Operational states as iproute2 prints them: "state UP" in `ip -o link`, the second
// column of `ip -br link`.
var (
	operStateO  = regexp.MustCompile(` state [A-Z]+ `)
	operStateBr = regexp.MustCompile(`(?m)^(\S+) +(?:UNKNOWN|NOTPRESENT|DOWN|LOWERLAYERDOWN|TESTING|DORMANT|UP) +`)
)

// withoutOperState drops the operational state from link listings. The kernel derives
// it from the carrier, asynchronously (linkwatch, up to a second later; on Linux 6.1 a
// lab's bridge shows UNKNOWN, then UP): it is not configuration, and the flags (UP,
// LOWER_UP) still show what was set.
func withoutOperState(out []byte) []byte {
	out = operStateO.ReplaceAll(out, []byte(" "))
	return operStateBr.ReplaceAll(out, []byte("$1 "))
}

// RequireSame fails the test, showing both, when a state changed.
func RequireSame(t testing.TB, what, before, after string) {
	t.Helper()
	if before != after {
		t.Fatalf("%s: state changed\n--- before\n%s\n--- after\n%s", what, before, after)
	}
}
