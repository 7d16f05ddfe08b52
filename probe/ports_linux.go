//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/docker"
	"github.com/netctl/netctl/internal/nlutil"
	"github.com/netctl/netctl/internal/nsutil"
)

// namespace is a network namespace netctl can name.
type namespace struct {
	ino   uint64
	label string // Docker name, netns name, Docker's file name, or netns:<inode>
	path  string
	final bool // named by the engine, a named netns or a process: not about to change
}

// Namer finds who is behind a host veth: the namespace of its peer (by the peer's
// link-netnsid) and the peer's name there. It knows the namespaces nsutil.List finds,
// each by its best name: the Docker view's containers first; every process's namespace
// is looked at only when a namespace is not found otherwise.
type Namer struct {
	hostNL  *netlink.Handle
	byID    map[int]namespace // netnsid as seen from the host namespace
	byIno   map[uint64]namespace
	scanned bool // processes' namespaces added
}

// NewNamer scans the namespaces visible now: Docker's containers from view (nil:
// docker.DefaultView()), named namespaces and Docker's namespace files. hostNL is
// bound to the host namespace.
func NewNamer(ctx context.Context, hostNL *netlink.Handle, view *docker.View) *Namer {
	n := &Namer{hostNL: hostNL, byID: map[int]namespace{}, byIno: map[uint64]namespace{}}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second) // bounds the Docker Engine's answer
	defer cancel()
	for _, e := range nsutil.List(ctx, nsutil.ListOptions{Docker: view}) {
		// Docker's files are named by sandbox id: still findable with ls, but the
		// container's name follows once the engine reports it running.
		n.add(e.Path, e.Name, e.Source != nsutil.FromDockerDir)
	}
	return n
}

func (n *Namer) add(path, label string, final bool) {
	h, err := netns.GetFromPath(path)
	if err != nil {
		return
	}
	defer h.Close()
	ino, err := nsutil.Inode(h)
	if err != nil {
		return
	}
	if _, seen := n.byIno[ino]; seen {
		return // an earlier source named it better
	}
	if label == "" {
		label = "netns:" + strconv.FormatUint(ino, 10)
	}
	ns := namespace{ino: ino, label: label, path: path, final: final}
	n.byIno[ino] = ns
	if id, err := n.hostNL.GetNetNsIdByFd(int(h)); err == nil && id >= 0 {
		n.byID[id] = ns
	}
}

// scanProcesses adds every process's namespace, once.
func (n *Namer) scanProcesses() {
	if n.scanned {
		return
	}
	n.scanned = true
	for _, e := range nsutil.ListProcesses() {
		n.add(e.Path, "", true)
	}
}

// Label names the namespace with that inode.
func (n *Namer) Label(ino uint64) string {
	if _, ok := n.byIno[ino]; !ok {
		n.scanProcesses()
	}
	if ns, ok := n.byIno[ino]; ok {
		return ns.label
	}
	return "netns:" + strconv.FormatUint(ino, 10)
}

// LabelAt names the namespace that path opens, when its cookie is cookie; ok is false
// when path opens another namespace or none: the one with that cookie is gone.
func (n *Namer) LabelAt(path string, cookie uint64) (label string, ok bool) {
	h, err := nsutil.OpenPath(path)
	if err != nil {
		return "", false
	}
	defer h.Close()
	if c, err := nsutil.Cookie(h); err != nil || c != cookie {
		return "", false
	}
	ino, err := nsutil.Inode(h)
	if err != nil {
		return "", false
	}
	return n.Label(ino), true
}

// Path returns a path that opens the namespace with that inode, if one is known.
func (n *Namer) Path(ino uint64) string { return n.byIno[ino].path }

// nsByID returns the namespace with that netnsid, scanning the processes if needed.
func (n *Namer) nsByID(id int) (namespace, bool) {
	if ns, ok := n.byID[id]; ok {
		return ns, true
	}
	n.scanProcesses()
	ns, ok := n.byID[id]
	return ns, ok
}

// HostPort describes a host-namespace interface: for a veth whose peer lives in another
// namespace, that namespace and the peer's name; otherwise the host itself.
func (n *Namer) HostPort(l netlink.Link) Port {
	p, _ := n.Name(l)
	return p
}

// Name is HostPort, and whether the name is final: false for a veth whose peer is still
// in the host namespace (being set up), is in a namespace known only by Docker's file
// (the container is starting), or in one not found.
func (n *Namer) Name(l netlink.Link) (Port, bool) {
	p := Port{Container: "host", Interface: l.Attrs().Name, HostInterface: l.Attrs().Name, Ifindex: l.Attrs().Index}
	if l.Attrs().MasterIndex > 0 {
		if br, err := n.hostNL.LinkByIndex(l.Attrs().MasterIndex); err == nil {
			p.Bridge = br.Attrs().Name
		}
	}
	if l.Type() != "veth" {
		return p, true
	}
	if l.Attrs().NetNsID < 0 {
		return p, false // both ends here: moved into a container in a moment
	}
	ns, ok := n.nsByID(l.Attrs().NetNsID)
	if !ok {
		p.Container = fmt.Sprintf("nsid:%d", l.Attrs().NetNsID)
		p.Interface = fmt.Sprintf("if%d", l.Attrs().ParentIndex)
		return p, false
	}
	p.Container, p.NetnsPath = ns.label, ns.path
	p.Interface = fmt.Sprintf("if%d", l.Attrs().ParentIndex)
	if h, err := netns.GetFromPath(ns.path); err == nil {
		if nl, err := nsutil.Handle(h); err == nil {
			if peer, err := nl.LinkByIndex(l.Attrs().ParentIndex); err == nil {
				p.Interface = peer.Attrs().Name
			}
			nl.Close()
		}
		h.Close()
	}
	return p, ns.final
}

// BridgePorts lists the ports of bridge in the host namespace.
func BridgePorts(hostNL *netlink.Handle, bridge string) ([]netlink.Link, error) {
	br, err := hostNL.LinkByName(bridge)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("bridge %s not found in the host namespace", bridge)
		}
		return nil, fmt.Errorf("find bridge %s: %w", bridge, err)
	}
	if br.Type() != "bridge" {
		return nil, fmt.Errorf("%s is not a bridge", bridge)
	}
	links, err := nlutil.Dump(hostNL.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var ports []netlink.Link
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			ports = append(ports, l)
		}
	}
	return ports, nil
}
