//go:build linux

package netctl

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nlutil"
	"github.com/netctl/netctl/internal/nsutil"
	"github.com/netctl/netctl/internal/state"
)

// Env is the pair of namespaces a NIC spans, with netlink handles bound to each, and
// where the records of what netctl changed are kept.
type Env struct {
	Host       netns.NsHandle
	HostView   NSView
	HostCookie uint64
	Ctr        *Container
	HostNL     *netlink.Handle
	CtrNL      *netlink.Handle
	store      records
}

// EnvOptions are the settings of an Env besides its namespaces.
type EnvOptions struct {
	// StateDir is the state root: NIC records go under StateDir/nic, locks under
	// StateDir/lock. "" means state.Dir().
	StateDir string
}

// NewEnv binds netlink handles to the host namespace and the container's. host is not
// closed by Env.Close; the container is.
func NewEnv(host netns.NsHandle, hostView NSView, ctr *Container, opts EnvOptions) (*Env, error) {
	hostIno, err := nsutil.Inode(host)
	if err != nil {
		return nil, err
	}
	if hostIno == ctr.Inode {
		return nil, fmt.Errorf("%s is the host namespace itself, not a container", ctr.Label)
	}
	hostCookie, err := nsutil.Cookie(host)
	if err != nil {
		return nil, err
	}
	hnl, err := nsutil.Handle(host)
	if err != nil {
		return nil, fmt.Errorf("netlink in host namespace: %w", err)
	}
	cnl, err := nsutil.Handle(ctr.NS)
	if err != nil {
		hnl.Close()
		return nil, fmt.Errorf("netlink in %s: %w", ctr.Label, err)
	}
	return &Env{Host: host, HostView: hostView, HostCookie: hostCookie, Ctr: ctr, HostNL: hnl, CtrNL: cnl,
		store: records{dir: cmp.Or(opts.StateDir, state.Dir())}}, nil
}

// Close releases the handles and the container namespace.
func (e *Env) Close() {
	e.HostNL.Close()
	e.CtrNL.Close()
	e.Ctr.Close()
}

// ObserveContainerLinks lists the container's interfaces with their addresses and the
// bridge their host-side veth peer is plugged into.
func (e *Env) ObserveContainerLinks() ([]ObservedLink, error) {
	links, err := nlutil.Dump(e.CtrNL.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links in %s: %w", e.Ctr.Label, err)
	}
	hostID, _ := e.CtrNL.GetNetNsIdByFd(int(e.Host)) // -1 when the kernel assigned none
	out := make([]ObservedLink, 0, len(links))
	for _, l := range links {
		ol := ObservedLink{Name: l.Attrs().Name}
		addrs, err := nlutil.Dump(func() ([]netlink.Addr, error) { return e.CtrNL.AddrList(l, netlink.FAMILY_ALL) })
		if err != nil {
			return nil, fmt.Errorf("list addresses of %s in %s: %w", ol.Name, e.Ctr.Label, err)
		}
		for _, a := range addrs {
			if p, ok := nlutil.Prefix(a.IPNet); ok {
				ol.Addrs = append(ol.Addrs, p)
			}
		}
		hp := e.hostPeer(l, hostID)
		if hp != nil {
			ol.HostPeer = hp.Attrs().Name
		}
		if hp != nil && hp.Attrs().MasterIndex > 0 {
			if br, err := e.HostNL.LinkByIndex(hp.Attrs().MasterIndex); err == nil {
				ol.OnBridge = br.Attrs().Name
			}
		}
		out = append(out, ol)
	}
	return out, nil
}

// hostPeer returns the host-namespace end of a container veth, or nil.
func (e *Env) hostPeer(l netlink.Link, hostID int) netlink.Link {
	if l.Type() != "veth" || l.Attrs().ParentIndex == 0 || hostID < 0 || l.Attrs().NetNsID != hostID {
		return nil
	}
	hp, err := e.HostNL.LinkByIndex(l.Attrs().ParentIndex)
	if err != nil {
		return nil
	}
	return hp
}

// Observe reads everything BuildPlan decides from.
func (e *Env) Observe(spec Spec) (Observed, error) {
	obs := Observed{NSInode: e.Ctr.Inode, NSCookie: e.Ctr.Cookie, Sysctls: map[string]string{}}
	var err error
	if obs.Links, err = e.ObserveContainerLinks(); err != nil {
		return obs, err
	}
	names := map[int]string{}
	links, err := nlutil.Dump(e.CtrNL.LinkList)
	if err != nil {
		return obs, fmt.Errorf("list links in %s: %w", e.Ctr.Label, err)
	}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	routes, err := nlutil.Dump(func() ([]netlink.Route, error) {
		return e.CtrNL.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: 0}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return obs, fmt.Errorf("list routes in %s: %w", e.Ctr.Label, err)
	}
	tables := map[int]bool{}
	for _, r := range routes {
		tables[r.Table] = true
		rs := nlutil.RouteOf(r, names, r.Family)
		if rs.InMain() && rs.IsDefault() && r.Type == unix.RTN_UNICAST {
			obs.DefaultRoutes = append(obs.DefaultRoutes, rs)
		}
	}
	rules, err := nlutil.Dump(func() ([]netlink.Rule, error) { return e.CtrNL.RuleList(netlink.FAMILY_ALL) })
	if err != nil {
		return obs, fmt.Errorf("list rules in %s: %w", e.Ctr.Label, err)
	}
	for _, r := range rules {
		tables[r.Table] = true
		obs.RulePrios = append(obs.RulePrios, r.Priority)
	}
	for t := range tables {
		obs.UsedTables = append(obs.UsedTables, t)
	}

	var others []string
	for _, l := range obs.Links {
		if l.Name != "lo" {
			others = append(others, l.Name)
		}
	}
	var keys []string
	for _, kv := range ARPGuardKeys(spec.Name, others) {
		if !strings.Contains(kv[0], "."+spec.Name+".") {
			keys = append(keys, kv[0])
		}
	}
	if obs.Sysctls, err = readSysctls(e.Ctr.NS, keys); err != nil {
		return obs, fmt.Errorf("in %s: %w", e.Ctr.Label, err)
	}

	br, err := e.HostNL.LinkByName(spec.Bridge)
	if err == nil {
		obs.BridgeExists = true
		obs.IsBridge = br.Type() == "bridge"
		obs.BridgeMTU = br.Attrs().MTU
	} else if !isNotFound(err) {
		return obs, fmt.Errorf("look up bridge %s: %w", spec.Bridge, err)
	}
	hostLinks, err := nlutil.Dump(e.HostNL.LinkList)
	if err != nil {
		return obs, fmt.Errorf("list links in the host namespace: %w", err)
	}
	for _, l := range hostLinks {
		obs.HostLinks = append(obs.HostLinks, l.Attrs().Name)
	}
	return obs, nil
}

// readSysctls reads dotted sysctl keys inside ns, in one namespace switch.
func readSysctls(ns netns.NsHandle, keys []string) (map[string]string, error) {
	out := map[string]string{}
	err := nsutil.Do(ns, func() error {
		for _, k := range keys {
			b, err := os.ReadFile(sysctlPath(k))
			if err != nil {
				return fmt.Errorf("read sysctl %s: %w", k, err)
			}
			out[k] = strings.TrimSpace(string(b))
		}
		return nil
	})
	return out, err
}

// sysctlPath maps net.ipv4.conf.eth1.arp_ignore to its /proc/sys file. Interface names
// may contain dots, so only the fixed parts are split.
func sysctlPath(key string) string {
	if rest, ok := strings.CutPrefix(key, "net.ipv4.conf."); ok {
		i := strings.LastIndexByte(rest, '.')
		return filepath.Join("/proc/sys/net/ipv4/conf", rest[:i], rest[i+1:])
	}
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

func isNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf)
}
