//go:build linux

package netctl

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/netctl/netctl/internal/nlutil"
)

// Where a step runs.
const (
	InHost      = "host"
	InContainer = "container"
)

// Step kinds, as records store them. Each is one entry of kinds (kind.go): its change,
// its undo, and the commands of both.
const (
	StepVeth     = "veth"      // create the veth pair, peer born in the container
	StepAddr     = "addr"      // add an address to the container end
	StepSysctl   = "sysctl"    // set a sysctl, remembering the old value
	StepLinkUp   = "link-up"   // set the container end up
	StepHostPort = "host-port" // host end: master bridge, up
	StepWaitDAD  = "wait-dad"  // wait for IPv6 duplicate address detection
	StepRouteDel = "route-del" // delete a route (undo re-adds it)
	StepRouteAdd = "route-add" // add a route (undo deletes it)
	StepRuleAdd  = "rule-add"  // add a policy rule (undo deletes it)
)

// RuleSpec is a policy routing rule in plain values.
type RuleSpec struct {
	Src      netip.Prefix `json:"src"`
	Table    int          `json:"table"`
	Priority int          `json:"priority"`
}

func (r RuleSpec) String() string {
	return fmt.Sprintf("from %s lookup %d priority %d", r.Src, r.Table, r.Priority)
}

// Step is one change and the data its undo needs. A plan is a list of steps; the record
// of a NIC is its plan, so `nic del` undoes exactly what `nic add` did.
type Step struct {
	Kind    string        `json:"kind"`
	NS      string        `json:"ns"` // InHost or InContainer
	Link    string        `json:"link,omitempty"`
	Peer    string        `json:"peer,omitempty"`   // veth: container-side name
	Bridge  string        `json:"bridge,omitempty"` // host-port
	MTU     int           `json:"mtu,omitempty"`
	MAC     string        `json:"mac,omitempty"`
	Alias   string        `json:"alias,omitempty"`
	Address netip.Prefix  `json:"address,omitzero"`
	Key     string        `json:"key,omitempty"` // sysctl, dotted: net.ipv4.conf.all.arp_ignore
	Value   string        `json:"value,omitempty"`
	Old     string        `json:"old,omitempty"`
	Route   *nlutil.Route `json:"route,omitempty"`
	Rule    *RuleSpec     `json:"rule,omitempty"`
}

// Warning says what about a plan deserves a word though it is allowed, or "".
func (p Plan) Warning() string {
	if p.Spec.MTU > 0 && p.BridgeMTU > 0 && p.Spec.MTU > p.BridgeMTU {
		return fmt.Sprintf("--mtu %d is above %s's MTU %d: frames larger than %d will not cross the bridge", p.Spec.MTU, p.Spec.Bridge, p.BridgeMTU, p.BridgeMTU)
	}
	return ""
}

// Plan is the ordered steps of one `nic add`.
type Plan struct {
	Spec      Spec   `json:"spec"`
	HostName  string `json:"host_name"`
	Container string `json:"container"` // how the user named it
	// ContainerID is the Docker container's ID, so that a record of an earlier namespace
	// of the same container (it restarted) is recognised.
	ContainerID string `json:"container_id,omitempty"`
	NSInode     uint64 `json:"netns_inode"`
	NSCookie    uint64 `json:"netns_cookie"`
	HostCookie  uint64 `json:"host_netns_cookie"`
	HostView    NSView `json:"host_netns"`
	BridgeMTU   int    `json:"bridge_mtu"`
	Steps       []Step `json:"steps"`
}

// Alias is the ifalias netctl gives the host end of a NIC it made: the container
// namespace's cookie and the NIC's name there.
func Alias(nsCookie uint64, name string) string { return fmt.Sprintf("netctl:%d:%s", nsCookie, name) }

// ObservedLink is an interface of the container namespace.
type ObservedLink struct {
	Name  string         `json:"name"`
	Addrs []netip.Prefix `json:"addrs"`
	// HostPeer is its veth peer in the host namespace, if any.
	HostPeer string `json:"host_peer,omitempty"`
	// OnBridge is the bridge its host-side veth peer is a port of, if any.
	OnBridge string `json:"on_bridge,omitempty"`
}

// Observed is the state BuildPlan decides from, read from both namespaces.
type Observed struct {
	NSInode  uint64
	NSCookie uint64
	// Container namespace.
	Links         []ObservedLink
	DefaultRoutes []nlutil.Route    // main table, both families
	UsedTables    []int             // tables any route or rule uses
	RulePrios     []int             // priorities of existing rules
	Sysctls       map[string]string // dotted keys → values, for the ARP guard keys
	// Host namespace.
	BridgeExists bool
	IsBridge     bool
	BridgeMTU    int
	HostLinks    []string // names of all links in the host namespace
}

func (o *Observed) link(name string) *ObservedLink {
	for i := range o.Links {
		if o.Links[i].Name == name {
			return &o.Links[i]
		}
	}
	return nil
}

// ARPGuardKeys lists the sysctls the ARP guard sets for a NIC named name next to the
// container's other interfaces on the same bridge, with their values.
func ARPGuardKeys(name string, others []string) [][2]string {
	var out [][2]string
	for _, ifc := range append([]string{"all"}, append(slices.Clone(others), name)...) {
		out = append(out,
			[2]string{"net.ipv4.conf." + ifc + ".arp_ignore", "1"},
			[2]string{"net.ipv4.conf." + ifc + ".arp_announce", "2"})
	}
	return out
}

// Rule priorities netctl picks from for source routing: below the main table's 32766.
const (
	rulePrioLow  = 10000
	rulePrioHigh = 32765
	firstTable   = 100
)

// BuildPlan decides every step of `nic add` from the spec and the observed state, and
// refuses (before any change) what would fail or clash. It is pure.
func BuildPlan(spec Spec, obs Observed, hostName string) (Plan, error) {
	if err := spec.Validate(); err != nil {
		return Plan{}, err
	}
	if err := ValidIfName(hostName); err != nil {
		return Plan{}, fmt.Errorf("host-side name: %w", err)
	}
	switch {
	case !obs.BridgeExists:
		return Plan{}, fmt.Errorf("bridge %s not found in the host namespace", spec.Bridge)
	case !obs.IsBridge:
		return Plan{}, fmt.Errorf("%s is not a bridge", spec.Bridge)
	}
	if obs.link(spec.Name) != nil {
		return Plan{}, fmt.Errorf("interface %s already exists in the container (nic del first, or choose --name)", spec.Name)
	}
	if slices.Contains(obs.HostLinks, hostName) {
		return Plan{}, fmt.Errorf("interface %s already exists in the host namespace (choose --host-name)", hostName)
	}
	for _, p := range spec.Addresses {
		for _, l := range obs.Links {
			for _, a := range l.Addrs {
				if a.Addr() == p.Addr() {
					return Plan{}, fmt.Errorf("address %s is already on %s in the container", p.Addr(), l.Name)
				}
			}
		}
	}

	mtu := spec.MTU
	if mtu == 0 {
		mtu = obs.BridgeMTU
	}
	plan := Plan{Spec: spec, HostName: hostName, NSInode: obs.NSInode, NSCookie: obs.NSCookie, BridgeMTU: obs.BridgeMTU}
	add := func(s Step) { plan.Steps = append(plan.Steps, s) }

	veth := Step{Kind: StepVeth, NS: InHost, Link: hostName, Peer: spec.Name, MTU: mtu,
		Alias: Alias(obs.NSCookie, spec.Name)}
	if spec.MAC != nil {
		veth.MAC = spec.MAC.String()
	}
	add(veth)
	for _, a := range spec.Addresses {
		add(Step{Kind: StepAddr, NS: InContainer, Link: spec.Name, Address: a})
	}

	// The ARP guard goes on before the interface comes up, so peers never see eth1
	// answer for eth0's address.
	var sameBridge []string
	for _, l := range obs.Links {
		if l.OnBridge == spec.Bridge {
			sameBridge = append(sameBridge, l.Name)
		}
	}
	if !spec.NoARPGuard && len(sameBridge) > 0 {
		for _, kv := range ARPGuardKeys(spec.Name, sameBridge) {
			old, known := obs.Sysctls[kv[0]]
			if known && old == kv[1] {
				continue // already guarded
			}
			if !known && !strings.Contains(kv[0], "."+spec.Name+".") {
				return Plan{}, fmt.Errorf("read sysctl %s: not observed", kv[0])
			}
			if !known {
				old = "0" // the new interface starts from the kernel default
			}
			add(Step{Kind: StepSysctl, NS: InContainer, Key: kv[0], Value: kv[1], Old: old})
		}
	}
	add(Step{Kind: StepLinkUp, NS: InContainer, Link: spec.Name})
	add(Step{Kind: StepHostPort, NS: InHost, Link: hostName, Bridge: spec.Bridge})
	if slices.ContainsFunc(spec.Addresses, func(p netip.Prefix) bool { return p.Addr().Is6() }) {
		add(Step{Kind: StepWaitDAD, NS: InContainer, Link: spec.Name})
	}

	// Source routing before the default route moves, so replies from the other
	// interfaces' addresses never take the new route.
	if spec.SourceRouting {
		steps, err := sourceRouting(spec, obs)
		if err != nil {
			return Plan{}, err
		}
		plan.Steps = append(plan.Steps, steps...)
	}
	if spec.DefaultRoute {
		v6 := spec.Gateway.Is6()
		for _, r := range obs.DefaultRoutes {
			if r.Gateway.Is6() == v6 || (!r.Gateway.IsValid() && r.Dst.Addr().Is6() == v6) {
				add(Step{Kind: StepRouteDel, NS: InContainer, Route: &r})
			}
		}
		add(Step{Kind: StepRouteAdd, NS: InContainer, Route: &nlutil.Route{
			Dst: netip.PrefixFrom(zeroAddr(v6), 0), Gateway: spec.Gateway, Dev: spec.Name}})
	}

	return plan, nil
}

// sourceRouting builds, for each other interface with an address, a table holding its
// subnet route and its default route, and a rule sending traffic from its address there
// (what CNI's sbr plugin does), so replies leave where requests came in.
func sourceRouting(spec Spec, obs Observed) ([]Step, error) {
	used := map[int]bool{0: true, 253: true, 254: true, 255: true}
	for _, t := range obs.UsedTables {
		used[t] = true
	}
	prios := map[int]bool{}
	for _, p := range obs.RulePrios {
		prios[p] = true
	}
	nextTable := firstTable
	nextPrio := rulePrioLow
	var steps []Step
	for _, l := range obs.Links {
		if l.Name == "lo" || l.Name == spec.Name {
			continue
		}
		for _, a := range l.Addrs {
			if a.Addr().Is6() && a.Addr().IsLinkLocalUnicast() {
				continue
			}
			for used[nextTable] {
				nextTable++
			}
			for prios[nextPrio] {
				nextPrio++
			}
			if nextPrio > rulePrioHigh {
				return nil, fmt.Errorf("source routing: no free rule priority in %d..%d", rulePrioLow, rulePrioHigh)
			}
			table, prio := nextTable, nextPrio
			used[table], prios[prio] = true, true
			steps = append(steps, Step{Kind: StepRouteAdd, NS: InContainer, Route: &nlutil.Route{
				Dst: a.Masked(), Dev: l.Name, Src: a.Addr(), Table: table, Scope: nlutil.ScopeLink}})
			if gw, ok := gatewayFor(l, a, spec, obs); ok {
				steps = append(steps, Step{Kind: StepRouteAdd, NS: InContainer, Route: &nlutil.Route{
					Dst: netip.PrefixFrom(zeroAddr(a.Addr().Is6()), 0), Gateway: gw, Dev: l.Name, Table: table}})
			}
			steps = append(steps, Step{Kind: StepRuleAdd, NS: InContainer, Rule: &RuleSpec{
				Src: netip.PrefixFrom(a.Addr(), a.Addr().BitLen()), Table: table, Priority: prio}})
		}
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("--source-routing: the container has no other interface with an address")
	}
	return steps, nil
}

// gatewayFor picks the default gateway for an interface's own table: its current default
// route's gateway, else --gateway when that is on the interface's subnet.
func gatewayFor(l ObservedLink, a netip.Prefix, spec Spec, obs Observed) (netip.Addr, bool) {
	for _, r := range obs.DefaultRoutes {
		if r.Dev == l.Name && r.Gateway.IsValid() && r.Gateway.Is6() == a.Addr().Is6() {
			return r.Gateway, true
		}
	}
	if spec.Gateway.IsValid() && a.Masked().Contains(spec.Gateway) {
		return spec.Gateway, true
	}
	return netip.Addr{}, false
}

func zeroAddr(v6 bool) netip.Addr {
	if v6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}
