//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/docker"
	"github.com/netctl/netctl/internal/nsutil"
	"github.com/netctl/netctl/internal/state"
)

// Mode is how programs are attached.
type Mode string

// Attach modes: TCX (Linux 6.6), legacy tc clsact with a direct-action bpf filter, or
// TCX falling back to tc where the kernel has no TCX.
const (
	ModeAuto Mode = "auto"
	ModeTCX  Mode = "tcx"
	ModeTC   Mode = "tc"
)

// ParseMode checks an --attach-mode value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeAuto, ModeTCX, ModeTC:
		return m, nil
	}
	return "", fmt.Errorf("invalid attach mode %q: want auto, tcx or tc", s)
}

// Pin folders of a map set: its pinned maps, and its pinned TCX links.
const (
	linksSubdir = "links"
	mapsSubdir  = "maps"
)

// Options tune Open and say where the datapath keeps its files; ReadPinned, HasPins
// and Detach use only the roots.
type Options struct {
	Mode        Mode   // default ModeAuto
	FlowEntries uint32 // size of the flow table of a new map set (0: DefaultFlowEntries)
	// BPFDir is the pin root: one folder per host namespace, named by the namespace's
	// cookie (never reused, unlike its inode), mode 0700. "" means state.BPFDir().
	BPFDir string
	// StateDir is the state root: the attach registry of each host namespace is
	// StateDir/attach/<cookie>.json. "" means state.Dir().
	StateDir string
	// Docker names the containers behind ports (nil: docker.DefaultView()).
	Docker *docker.View
}

// bpfDir is the pin root.
func (o Options) bpfDir() string { return cmp.Or(o.BPFDir, state.BPFDir()) }

// pinDir is the folder of the host namespace whose cookie is hostCookie.
func (o Options) pinDir(hostCookie uint64) string {
	return filepath.Join(o.bpfDir(), strconv.FormatUint(hostCookie, 10))
}

// setDir is the folder, under a host namespace's, of the map set of another namespace
// where an interface was attached inside.
func setDir(hostDir string, cookie uint64) string {
	return filepath.Join(hostDir, setPrefix+strconv.FormatUint(cookie, 10))
}

// setPrefix begins the name of a folder of setDir.
const setPrefix = "ns-"

// Datapath is netctl's programs and pinned maps for one host namespace: one map set for
// the host namespace, and one per other namespace where an interface was attached inside
// (interface indexes are only unique within a namespace), each keyed by the namespace's
// cookie (0: the host namespace).
type Datapath struct {
	host       netns.NsHandle
	hostCookie uint64
	dir        string
	opts       Options
	sets       map[uint64]*mapSet // by cookie; key 0: the host namespace
	// attached is every interface this datapath attached to or adopted, by its set's
	// cookie and ifindex: what it must keep counting (Check), whatever the registry
	// file says meanwhile.
	attached map[setIfindex]bool
	progMaps map[ebpf.ProgramID][]ebpf.MapID // the maps of programs seen attached
	reg      *registry
	mu       sync.Mutex // the watcher and snapshots run concurrently (serve)
	// readMu is held (read) by the reads of the maps, which run outside mu: Reload closes
	// the maps it replaced under it (write), after the reads that took them.
	readMu  sync.RWMutex
	ports   []Port // who is behind each registered interface (valid while portsOK)
	portsOK bool
	bridges []string // bridges whose ports this datapath attaches to
	// pending are host ports attached before who is behind them was known (a veth whose
	// peer is not yet in its container): named, and reported, when it is.
	pending map[int]time.Time
	peers   map[peerRef]int // container interfaces behind host ports with an rx check: the port's ifindex
}

// setIfindex is an interface of a map set's namespace.
type setIfindex struct {
	cookie  uint64
	ifindex int
}

// mapSet is the loaded programs and pinned maps of one namespace.
type mapSet struct {
	ns     netns.NsHandle
	cookie uint64 // 0 for the host namespace
	dir    string
	objs   productObjects
	nl     *netlink.Handle
}

// productObjects are the programs the product attaches and the maps; LoadAndAssign
// loads only these (the baseline and benchmark programs stay in the ELF).
type productObjects struct {
	NetctlIngress *ebpf.Program `ebpf:"netctl_ingress"`
	NetctlEgress  *ebpf.Program `ebpf:"netctl_egress"`
	netctlMaps
}

// Close releases the programs and maps held by this process (pins stay).
func (o *productObjects) Close() error {
	return errors.Join(o.NetctlIngress.Close(), o.NetctlEgress.Close(), o.netctlMaps.Close())
}

// Open loads the programs for the host namespace host, adopting the maps pinned by an
// earlier netctl (so counters continue) or creating and pinning new ones. It attaches
// nothing. host stays owned by the caller.
func Open(host netns.NsHandle, opts Options) (*Datapath, error) {
	if opts.Mode == "" {
		opts.Mode = ModeAuto
	}
	cookie, err := nsutil.Cookie(host)
	if err != nil {
		return nil, err
	}
	d := &Datapath{host: host, hostCookie: cookie, dir: opts.pinDir(cookie), opts: opts, sets: map[uint64]*mapSet{},
		attached: map[setIfindex]bool{}, progMaps: map[ebpf.ProgramID][]ebpf.MapID{}, pending: map[int]time.Time{},
		peers: map[peerRef]int{}}
	if d.reg, err = loadRegistry(opts.registryPath(cookie)); err != nil {
		return nil, err
	}
	if _, err := d.set(0, host); err != nil {
		return nil, err
	}
	return d, nil
}

// Options returns the options the datapath was opened with: its roots for ReadPinned,
// HasPins and Detach.
func (d *Datapath) Options() Options { return d.opts }

// Close releases this process's handles. Pinned maps, pinned links and tc filters stay:
// the counters go on without netctl running.
func (d *Datapath) Close() error {
	var errs []error
	for cookie, s := range d.sets {
		errs = append(errs, s.objs.Close())
		s.nl.Close()
		if cookie != 0 {
			s.ns.Close()
		}
	}
	return errors.Join(errs...)
}

// set returns the map set of the namespace whose cookie is cookie (0: the host
// namespace), loading it (and adopting its pins) if needed. ns is duplicated, so the
// caller keeps its handle.
func (d *Datapath) set(cookie uint64, ns netns.NsHandle) (*mapSet, error) {
	if s, ok := d.sets[cookie]; ok {
		return s, nil
	}
	dir := d.dir
	if cookie != 0 {
		dir = setDir(d.dir, cookie)
		fd, err := unix.FcntlInt(uintptr(ns), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("dup namespace handle: %w", err)
		}
		ns = netns.NsHandle(fd)
	}
	s := &mapSet{ns: ns, cookie: cookie, dir: dir}
	if err := loadSet(s, d.opts.FlowEntries); err != nil {
		if cookie != 0 {
			ns.Close()
		}
		return nil, err
	}
	nl, err := nsutil.Handle(ns)
	if err != nil {
		s.objs.Close()
		if cookie != 0 {
			ns.Close()
		}
		return nil, fmt.Errorf("netlink handle: %w", err)
	}
	s.nl = nl
	d.sets[cookie] = s
	return s, nil
}

// loadSet loads the product's programs with maps pinned by name under s.dir/maps.
func loadSet(s *mapSet, flowEntries uint32) error {
	if err := os.MkdirAll(filepath.Join(s.dir, mapsSubdir), 0o700); err != nil {
		return fmt.Errorf("create pin folder (is bpffs mounted at /sys/fs/bpf?): %w", err)
	}
	if err := os.MkdirAll(filepath.Join(s.dir, linksSubdir), 0o700); err != nil {
		return fmt.Errorf("create pin folder: %w", err)
	}
	spec, err := loadNetctl()
	if err != nil {
		return fmt.Errorf("load program spec: %w", err)
	}
	for name, m := range spec.Maps {
		if !strings.HasPrefix(name, ".") { // .rodata holds constants: each load its own
			m.Pinning = ebpf.PinByName
		}
	}
	if flowEntries > 0 {
		spec.Maps[netctlMapFlows].MaxEntries = flowEntries
	}
	var objs productObjects
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: filepath.Join(s.dir, mapsSubdir)}}
	err = spec.LoadAndAssign(&objs, opts)
	for try := 0; errors.Is(err, os.ErrExist) && try < 10; try++ {
		// Another netctl pinned a map between the look and the pin (serve attaching
		// again while `netctl attach` runs): adopt what is pinned now. Each try finds
		// one more map pinned, so this ends.
		err = spec.LoadAndAssign(&objs, opts)
	}
	if err != nil {
		if errors.Is(err, ebpf.ErrMapIncompatible) {
			return fmt.Errorf("load programs: the maps pinned in %s do not match this netctl (another version, or another --flow-entries); run 'netctl detach' first: %w", s.dir, err)
		}
		return fmt.Errorf("load programs: %w", withVerifierLog(err))
	}
	s.objs = objs
	return nil
}
