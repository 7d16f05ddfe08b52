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
			created := slices.IndexFunc(steps, func(st step) bool { return st.op == opCreateNS && st.ns == n.Role })
			if created < 0 {
				t.Fatalf("ipv6=%v: %s never created", ipv6, n.Role)
			}
			firstLink := slices.IndexFunc(steps, func(st step) bool {
				return st.op != opCreateNS && st.op != opSysctl && (st.ns == n.Role || st.op == opAddVeth && st.peerNS == n.Role)
			})
			want := map[string]string{"net/ipv4/ip_forward": "0"}
			if n.Role == RoleHost {
				want["net/ipv4/ip_forward"] = "1"
			}
			if ipv6 {
				want["net/ipv6/conf/all/accept_dad"] = "0"
				want["net/ipv6/conf/all/forwarding"] = want["net/ipv4/ip_forward"]
			} else {
				want["net/ipv6/conf/all/disable_ipv6"] = "1"
				want["net/ipv6/conf/default/disable_ipv6"] = "1"
			}
			for i, st := range steps {
				if st.op == opSysctl && st.ns == n.Role {
					if i < created || i > firstLink {
						t.Errorf("ipv6=%v: %s at step %d, outside [%d,%d]", ipv6, st.describe(s), i, created, firstLink)
					}
					if v, ok := want[st.key]; ok {
						if v != st.value {
							t.Errorf("ipv6=%v: %s, want value %s", ipv6, st.describe(s), v)
						}
						delete(want, st.key)
					}
				}
			}
			if len(want) > 0 {
				t.Errorf("ipv6=%v: %s lacks sysctls %v", ipv6, n.Role, want)
			}
		}
	}
}

// Things are made before they are used: namespaces before their links, links before
// their addresses, master and up, addresses before the routes through them.
func TestPlanOrder(t *testing.T) {
	s, _ := NewSpec("p", true)
	steps := plan(s)
	type key struct {
		ns   Role
		link string
	}
	made := map[key]int{}
	for _, r := range Roles {
		made[key{r, "lo"}] = -1 // exists once the namespace does
	}
	nsMade := map[Role]bool{}
	addrs := map[Role]int{}
	for i, st := range steps {
		desc := st.describe(s)
		if st.op != opCreateNS && !nsMade[st.ns] {
			t.Errorf("step %d %q before its namespace exists", i, desc)
		}
		switch st.op {
		case opCreateNS:
			nsMade[st.ns] = true
		case opAddBridge:
			made[key{st.ns, st.link}] = i
		case opAddVeth:
			if !nsMade[st.peerNS] {
				t.Errorf("step %d %q before the peer namespace exists", i, desc)
			}
			made[key{st.ns, st.link}] = i
			made[key{st.peerNS, st.peer}] = i
		case opSetMaster, opAddAddr, opLinkUp, opAddRoute:
			if _, ok := made[key{st.ns, st.link}]; !ok {
				t.Errorf("step %d %q uses a link not made yet", i, desc)
			}
			if st.op == opSetMaster {
				if _, ok := made[key{st.ns, st.master}]; !ok {
					t.Errorf("step %d %q: master not made yet", i, desc)
				}
			}
			if st.op == opAddAddr {
				addrs[st.ns]++
			}
			if st.op == opAddRoute && addrs[st.ns] == 0 {
				t.Errorf("step %d %q before any address in %s", i, desc, st.ns)
			}
		}
	}
	if last := steps[len(steps)-1]; last.op != opAddRoute {
		t.Errorf("last step %q, want the routes last", last.describe(s))
	}
}

func TestStepDescribe(t *testing.T) {
	s, _ := NewSpec("lab", true)
	var got []string
	for _, st := range plan(s) {
		got = append(got, st.describe(s))
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
		if d := st.describe(s4); strings.Contains(d, "fd17") || strings.Contains(d, "fd51") || strings.Contains(d, "accept_dad") {
			t.Errorf("IPv4-only plan has IPv6 step %q", d)
		}
	}
}
