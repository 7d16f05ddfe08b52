//go:build linux

package lab

import (
	"slices"
	"strings"
	"testing"
)

// Every namespace gets its IPv6 and forwarding sysctls right after it is created and
// before any interface is made in it or moved into it.
func TestPlanSysctlsBeforeInterfaces(t *testing.T) {
	for _, ipv6 := range []bool{false, true} {
		s, _ := NewSpec("p", ipv6)
		steps := plan(s)
		for _, n := range s.Namespaces {
			created := slices.IndexFunc(steps, func(st step) bool { return st.cmd == "ip netns add "+n.Name })
			if created < 0 {
				t.Fatalf("ipv6=%v: %s never created", ipv6, n.Role)
			}
			sysctlOf := func(st step) (string, bool) { return strings.CutPrefix(st.cmd, "ip netns exec "+n.Name+" sysctl -w ") }
			firstLink := slices.IndexFunc(steps, func(st step) bool {
				_, isSysctl := sysctlOf(st)
				inNS := st.ns == n.Role && !isSysctl && st.cmd != "ip netns add "+n.Name
				return inNS || strings.HasSuffix(st.cmd, " netns "+n.Name) // a veth peer born there
			})
			want := map[string]string{"net.ipv4.ip_forward": "0"}
			if n.Role == RoleHost {
				want["net.ipv4.ip_forward"] = "1"
			}
			if ipv6 {
				want["net.ipv6.conf.all.accept_dad"] = "0"
				want["net.ipv6.conf.all.forwarding"] = want["net.ipv4.ip_forward"]
			} else {
				want["net.ipv6.conf.all.disable_ipv6"] = "1"
				want["net.ipv6.conf.default.disable_ipv6"] = "1"
			}
			for i, st := range steps {
				kv, ok := sysctlOf(st)
				if !ok {
					continue
				}
				if i < created || i > firstLink {
					t.Errorf("ipv6=%v: %s at step %d, outside [%d,%d]", ipv6, st.cmd, i, created, firstLink)
				}
				key, value, _ := strings.Cut(kv, "=")
				if v, ok := want[key]; ok {
					if v != value {
						t.Errorf("ipv6=%v: %s, want value %s", ipv6, st.cmd, v)
					}
					delete(want, key)
				}
			}
			if len(want) > 0 {
				t.Errorf("ipv6=%v: %s lacks sysctls %v", ipv6, n.Role, want)
			}
		}
	}
}

// Things are made before they are used: namespaces before their links, links before
// their addresses, master and up, addresses before the routes through them. The steps'
// commands say what they make and use, as iproute2 would read them.
func TestPlanOrder(t *testing.T) {
	s, _ := NewSpec("p", true)
	steps := plan(s)
	made := map[string]bool{} // "netns/link"
	nsMade := map[string]bool{}
	addrs := map[string]int{}
	for n, st := range steps {
		f := strings.Fields(st.cmd)
		if name, ok := strings.CutPrefix(st.cmd, "ip netns add "); ok {
			nsMade[name] = true
			made[name+"/lo"] = true
			continue
		}
		ns := s.Name(st.ns)
		if !nsMade[ns] {
			t.Errorf("step %d %q before its namespace exists", n, st.cmd)
		}
		after := func(word string) string {
			if k := slices.Index(f, word); k >= 0 && k+1 < len(f) {
				return f[k+1]
			}
			return ""
		}
		switch {
		case strings.Contains(st.cmd, " sysctl -w "):
		case slices.Contains(f, "add") && after("link") == "add":
			made[ns+"/"+after("add")] = true
			if peerNS := after("netns"); peerNS != "" {
				if !nsMade[peerNS] {
					t.Errorf("step %d %q before the peer namespace exists", n, st.cmd)
				}
				made[peerNS+"/"+after("name")] = true
			}
		default:
			link := after("dev")
			if link == "" {
				link = after("set")
			}
			if !made[ns+"/"+link] {
				t.Errorf("step %d %q uses link %q not made yet", n, st.cmd, link)
			}
			if m := after("master"); m != "" && !made[ns+"/"+m] {
				t.Errorf("step %d %q: master not made yet", n, st.cmd)
			}
			if after("addr") == "add" {
				addrs[ns]++
			}
			if after("route") == "add" && addrs[ns] == 0 {
				t.Errorf("step %d %q before any address in %s", n, st.cmd, ns)
			}
		}
	}
	if last := steps[len(steps)-1]; !strings.Contains(last.cmd, " route add ") {
		t.Errorf("last step %q, want the routes last", last.cmd)
	}
}

func TestStepCommands(t *testing.T) {
	s, _ := NewSpec("lab", true)
	var got []string
	for _, st := range plan(s) {
		got = append(got, st.cmd)
	}
	for _, want := range []string{
		"ip netns add lab-host",
		"ip netns exec lab-host sysctl -w net.ipv4.ip_forward=1",
		"ip netns exec lab-container1 sysctl -w net.ipv4.ip_forward=0",
		"ip -n lab-host link add docker0 type bridge",
		"ip -n lab-host addr add 172.17.0.1/16 dev docker0",
		"ip -n lab-host addr add fd17::1/64 dev docker0 nodad",
		"ip -n lab-host link add veth-c1 type veth peer name eth0 netns lab-container1",
		"ip -n lab-host link set veth-c1 master docker0",
		"ip -n lab-container2 link set eth0 up",
		"ip -n lab-container1 route add default via 172.17.0.1 dev eth0",
		"ip -n lab-outside route add 172.17.0.0/16 via 198.51.100.1 dev eth0",
		"ip -6 -n lab-container1 route add default via fd17::1 dev eth0",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("plan lacks %q; plan:\n%s", want, strings.Join(got, "\n"))
		}
	}
	s4, _ := NewSpec("lab", false)
	for _, st := range plan(s4) {
		if strings.Contains(st.cmd, "fd17") || strings.Contains(st.cmd, "fd51") || strings.Contains(st.cmd, "accept_dad") {
			t.Errorf("IPv4-only plan has IPv6 step %q", st.cmd)
		}
	}
}
