//go:build linux

package nsutil

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netns"
)

// Liveness says which network namespaces, named by cookie, still exist: those that a
// name, a bind mount, a process, a thread or an open file holds. It looks lazily, the
// cheap places first (the caller's own namespace, NamedDir and DockerDir, this mount
// namespace's bind mounts, processes, threads, open files, other mount namespaces'
// bind mounts), and stops as soon as it found the cookie asked for, so a namespace that
// exists costs little; only a namespace that is gone costs the whole search.
//
// It errs on the side of existence: when some namespace's cookie could not be read
// (no CAP_SYS_ADMIN to enter it), no namespace is reported gone. A Liveness answers for
// the moment of the search; use a new one per command.
type Liveness struct {
	started time.Time       // when it was made: files newer than this are not judged
	cookies map[uint64]bool // cookies of the namespaces found
	inodes  map[uint64]bool // inodes of the namespaces found
	stage   int
	unsure  error // why a namespace's cookie is unknown
}

// NewLiveness returns a Liveness that has not looked anywhere yet.
func NewLiveness() *Liveness {
	return &Liveness{started: time.Now(), cookies: map[uint64]bool{}, inodes: map[uint64]bool{}}
}

// Gone reports whether the file or folder at path, kept for the namespace whose cookie
// is cookie, is left over from a namespace that no longer exists. A path changed since
// the Liveness was made is never judged gone: its namespace may be newer than the
// search.
func (l *Liveness) Gone(cookie uint64, path string) bool {
	st, err := os.Lstat(path)
	if err != nil || !st.ModTime().Before(l.started) {
		return false
	}
	return !l.Alive(cookie)
}

// Add records an open namespace as existing: one the caller holds is found without a
// search.
func (l *Liveness) Add(h netns.NsHandle) error {
	ino, err := Inode(h)
	if err != nil {
		return err
	}
	c, err := Cookie(h)
	if err != nil {
		return err
	}
	l.inodes[ino], l.cookies[c] = true, true
	return nil
}

// liveStages are the places a Liveness looks, cheapest first. Each lists the paths of
// namespace files found there.
var liveStages = []func() []string{
	func() []string { return []string{"/proc/thread-self/ns/net", "/proc/self/ns/net"} },
	func() []string {
		var out []string
		for _, e := range append(listDir(NamedDir, FromNamed), listDir(DockerDir, FromDockerDir)...) {
			out = append(out, e.Path)
		}
		return out
	},
	func() []string { return nsfsMounts("/proc/self/mountinfo", "") },
	func() []string { return procLinks("/proc/*/ns/net") },
	func() []string { return procLinks("/proc/*/task/*/ns/net") },
	func() []string { return procLinks("/proc/*/fd/*") },
	otherMountNamespaces,
}

// Alive reports whether the network namespace whose cookie is cookie exists. It is
// false only when every place was searched in vain and every namespace found there
// could be read.
func (l *Liveness) Alive(cookie uint64) bool {
	for !l.cookies[cookie] {
		if l.stage == len(liveStages) {
			return l.unsure != nil
		}
		for _, p := range liveStages[l.stage]() {
			l.add(p)
		}
		l.stage++
	}
	return true
}

// Unsure returns why Alive could not prove any namespace gone, or nil.
func (l *Liveness) Unsure() error { return l.unsure }

// add records the namespace at path, if it is a network namespace not seen yet.
func (l *Liveness) add(path string) {
	if ino, ok := linkInode(path); ok && l.inodes[ino] {
		return // a /proc link names its inode: known already, nothing to open
	}
	h, err := OpenPath(path)
	if err != nil {
		return // gone meanwhile (a process exited), or no network namespace
	}
	defer h.Close()
	ino, err := Inode(h)
	if err != nil || l.inodes[ino] {
		return
	}
	c, err := Cookie(h)
	if err != nil {
		l.unsure = fmt.Errorf("namespace %s: %w", path, err)
		return
	}
	l.inodes[ino], l.cookies[c] = true, true
}

// linkInode reads the inode a /proc namespace link names ("net:[4026531840]").
func linkInode(path string) (uint64, bool) {
	s, err := os.Readlink(path)
	if err != nil {
		return 0, false
	}
	s, ok := strings.CutPrefix(s, "net:[")
	if !ok {
		return 0, false
	}
	ino, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
	return ino, err == nil
}

// procLinks lists the /proc links matching pattern that name a network namespace.
func procLinks(pattern string) []string {
	paths, _ := filepath.Glob(pattern)
	out := paths[:0]
	for _, p := range paths {
		if s, err := os.Readlink(p); err == nil && strings.HasPrefix(s, "net:[") {
			out = append(out, p)
		}
	}
	return out
}

// nsfsMounts lists the mount points of namespace files (bind mounts on nsfs) in a
// mountinfo file, each under root (a /proc/PID/root to reach another mount namespace).
func nsfsMounts(mountinfo, root string) []string {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional…] - fstype source super
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+1 >= len(fields) || fields[sep+1] != "nsfs" {
			continue
		}
		out = append(out, root+unescapeMount(fields[4]))
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// otherMountNamespaces lists the namespace files bind-mounted in the mount namespaces
// of other processes, one process per mount namespace, reached through its root.
func otherMountNamespaces() []string {
	self, _ := os.Readlink("/proc/self/ns/mnt")
	seen := map[string]bool{self: true}
	pids, _ := os.ReadDir("/proc")
	var out []string
	for _, p := range pids {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		mnt, err := os.Readlink(filepath.Join("/proc", p.Name(), "ns/mnt"))
		if err != nil || seen[mnt] {
			continue
		}
		seen[mnt] = true
		dir := filepath.Join("/proc", p.Name())
		out = append(out, nsfsMounts(filepath.Join(dir, "mountinfo"), filepath.Join(dir, "root"))...)
	}
	return out
}
