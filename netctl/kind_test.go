//go:build linux

package netctl

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/netctl/netctl/internal/nlutil"
)

// Every step kind renders its commands and undo commands as iproute2 and sysctl would
// take them, in a named host namespace and a container reached by path.
func TestStepCommandsEveryKind(t *testing.T) {
	host, ctr := NSView{Name: "h"}, NSView{Path: "/proc/42/ns/net"}
	in := "nsenter --net=/proc/42/ns/net "
	covered := map[string]bool{}
	for _, tc := range []struct {
		step Step
		cmd  []string
		undo []string
	}{
		{Step{Kind: StepVeth, NS: InHost, Link: "veth-host", Peer: "eth1", MTU: 1400, MAC: "02:00:00:00:00:01", Alias: "netctl:7:eth1"},
			[]string{"ip -n h link add name veth-host mtu 1400 type veth peer name eth1 mtu 1400 address 02:00:00:00:00:01 netns /proc/42/ns/net",
				"ip -n h link set veth-host alias netctl:7:eth1"},
			[]string{"ip -n h link del veth-host"}},
		{Step{Kind: StepAddr, NS: InContainer, Link: "eth1", Address: netip.MustParsePrefix("172.17.0.99/24")},
			[]string{in + "ip addr add 172.17.0.99/24 brd + dev eth1"},
			[]string{in + "ip addr del 172.17.0.99/24 dev eth1"}},
		{Step{Kind: StepAddr, NS: InContainer, Link: "eth1", Address: netip.MustParsePrefix("fd17::99/64")},
			[]string{in + "ip addr add fd17::99/64 dev eth1"},
			[]string{in + "ip addr del fd17::99/64 dev eth1"}},
		{Step{Kind: StepSysctl, NS: InContainer, Key: "net.ipv4.conf.all.arp_ignore", Value: "1", Old: "0"},
			[]string{in + "sysctl -w net.ipv4.conf.all.arp_ignore=1"},
			[]string{in + "sysctl -w net.ipv4.conf.all.arp_ignore=0"}},
		{Step{Kind: StepLinkUp, NS: InContainer, Link: "eth1"},
			[]string{in + "ip link set eth1 up"},
			[]string{in + "ip link set eth1 down"}},
		{Step{Kind: StepHostPort, NS: InHost, Link: "veth-host", Bridge: "docker0"},
			[]string{"ip -n h link set veth-host master docker0", "ip -n h link set veth-host up"},
			[]string{"ip -n h link set veth-host nomaster"}},
		{Step{Kind: StepWaitDAD, NS: InContainer, Link: "eth1"},
			[]string{"# wait until eth1's IPv6 addresses leave the tentative state (DAD)"},
			nil},
		{Step{Kind: StepRouteDel, NS: InContainer, Route: &nlutil.Route{Dst: netip.MustParsePrefix("::/0"),
			Gateway: netip.MustParseAddr("fd17::1"), Dev: "eth0", Metric: 1024}},
			[]string{in + "ip route del default via fd17::1 dev eth0 metric 1024"},
			[]string{in + "ip route add default via fd17::1 dev eth0 metric 1024"}},
		{Step{Kind: StepRouteAdd, NS: InContainer, Route: &nlutil.Route{Dst: netip.MustParsePrefix("172.17.0.0/16"),
			Dev: "eth0", Src: netip.MustParseAddr("172.17.0.2"), Table: 101, Scope: nlutil.ScopeLink}},
			[]string{in + "ip route add 172.17.0.0/16 dev eth0 table 101 scope link src 172.17.0.2"},
			[]string{in + "ip route del 172.17.0.0/16 dev eth0 table 101 scope link src 172.17.0.2"}},
		{Step{Kind: StepRuleAdd, NS: InContainer, Rule: &RuleSpec{Src: netip.MustParsePrefix("fd17::2/128"), Table: 102, Priority: 10002}},
			[]string{in + "ip -6 rule add from fd17::2/128 lookup 102 priority 10002"},
			[]string{in + "ip -6 rule del from fd17::2/128 lookup 102 priority 10002"}},
		{Step{Kind: "bogus", NS: InHost},
			[]string{"# unknown step bogus"},
			nil},
	} {
		covered[tc.step.Kind] = true
		if got := tc.step.Commands(host, ctr); !slices.Equal(got, tc.cmd) {
			t.Errorf("%s commands:\n got %q\nwant %q", tc.step.Kind, got, tc.cmd)
		}
		got := tc.step.UndoCommands(host, ctr)
		if !slices.Equal(got, tc.undo) || (got == nil) != (tc.undo == nil) {
			t.Errorf("%s undo commands:\n got %q\nwant %q", tc.step.Kind, got, tc.undo)
		}
	}
	for k := range kinds {
		if !covered[k] {
			t.Errorf("kind %s has no case here", k)
		}
	}
}

// Each kind is whole: a change and its command, and an undo exactly when it has an
// undo command.
func TestKindsComplete(t *testing.T) {
	for _, name := range []string{StepVeth, StepAddr, StepSysctl, StepLinkUp, StepHostPort, StepWaitDAD, StepRouteDel, StepRouteAdd, StepRuleAdd} {
		k, ok := kinds[name]
		switch {
		case !ok:
			t.Errorf("step kind %s is not in kinds", name)
		case k.do == nil || k.cmd == nil:
			t.Errorf("kind %s lacks its change or its command", name)
		case (k.undo == nil) != (k.undoCmd == nil):
			t.Errorf("kind %s: undo and undo command disagree", name)
		}
	}
	if len(kinds) != 9 {
		t.Errorf("%d kinds, want the 9 step constants", len(kinds))
	}
}

// --dry-run output pastes safely into a shell: every word that a shell would read
// otherwise is quoted, in commands and undo commands alike.
func TestStepCommandsQuoted(t *testing.T) {
	host, ctr := NSView{Name: "h;x"}, NSView{Path: "/run/netns/a b"}
	veth := Step{Kind: StepVeth, NS: InHost, Link: "nc$(id)", Peer: "e'1", MTU: 1500, Alias: "netctl:7:e'1"}
	got := veth.Commands(host, ctr)
	want := []string{
		`ip -n 'h;x' link add name 'nc$(id)' mtu 1500 type veth peer name 'e'\''1' mtu 1500 netns '/run/netns/a b'`,
		`ip -n 'h;x' link set 'nc$(id)' alias 'netctl:7:e'\''1'`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("veth commands:\n got %q\nwant %q", got, want)
	}
	route := Step{Kind: StepRouteAdd, NS: InContainer, Route: &nlutil.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"),
		Gateway: netip.MustParseAddr("172.17.0.1"), Dev: "`reboot`"}}
	if got, want := route.UndoCommands(host, ctr), []string{"nsenter '--net=/run/netns/a b' ip route del default via 172.17.0.1 dev '`reboot`'"}; !slices.Equal(got, want) {
		t.Errorf("route undo:\n got %q\nwant %q", got, want)
	}
	sysctl := Step{Kind: StepSysctl, NS: InContainer, Key: "net.ipv4.conf.a&b.arp_ignore", Value: "1"}
	if got, want := sysctl.Commands(host, ctr), []string{"nsenter '--net=/run/netns/a b' sysctl -w 'net.ipv4.conf.a&b.arp_ignore=1'"}; !slices.Equal(got, want) {
		t.Errorf("sysctl:\n got %q\nwant %q", got, want)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"eth1": "eth1", "172.17.0.99/24": "172.17.0.99/24", "--net=/proc/1/ns/net": "--net=/proc/1/ns/net",
		"": "''", "a b": "'a b'", "$(id)": "'$(id)'", "it's": `'it'\''s'`, "~x": "'~x'", "a*": "'a*'",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}
