//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/internal/lab"
	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/top"
	"github.com/netctl/netctl/probe"
)

func TestTopSample(t *testing.T) {
	now := time.Now()
	a := netip.MustParseAddr
	snap := probe.Snapshot{Time: now,
		Interfaces: []probe.InterfaceCounters{{Port: probe.Port{Container: "c1", Interface: "eth1", HostInterface: "veth9", Bridge: "docker0"},
			RxPackets: 1, RxBytes: 2, TxPackets: 3, TxBytes: 4}},
		Flows: []probe.Flow{{Container: "c1", Interface: "eth0", Direction: probe.Receive, Proto: 1, Src: a("172.17.0.3"), Dst: a("172.17.0.2"),
			SrcPort: 8 << 8, DstPort: 7, Packets: 5, Bytes: 490, FirstSeen: now.Add(-time.Second)}},
	}
	convs := []analysis.Conversation{{Container: "c1", Proto: 6, Local: a("172.17.0.2"), LocalPort: 80, Remote: a("172.17.0.3"), RemotePort: 40000,
		Initiator: analysis.InitiatorRemote, InInterface: "eth0", OutInterface: "eth1", OutBytes: 900, LastSeen: now,
		Reason: "in eth0, replies out eth1: 172.17.0.0/24 dev eth1 is more specific than eth0's 172.17.0.0/16; fix: netctl nic add --source-routing"}}
	s := topSample(snap, convs, nil, time.Minute)
	want := top.Interface{Container: "c1", Name: "eth1", HostInterface: "veth9", Bridge: "docker0", RxBytes: 2, RxPackets: 1, TxBytes: 4, TxPackets: 3}
	if len(s.Interfaces) != 1 || s.Interfaces[0] != want {
		t.Errorf("interfaces %+v", s.Interfaces)
	}
	wantFlow := top.Flow{Container: "c1", Interface: "eth0", Direction: top.Receive, Proto: "icmp", Src: "172.17.0.3 type 8/0", Dst: "172.17.0.2 id 7",
		Packets: 5, Bytes: 490, FirstSeen: now.Add(-time.Second)}
	if len(s.Flows) != 1 || s.Flows[0] != wantFlow {
		t.Errorf("flows %+v", s.Flows)
	}
	wantProblem := top.Problem{Kind: top.KindAsymmetric, Container: "c1", Subject: "tcp 172.17.0.2:80 ⇄ 172.17.0.3:40000", Where: "in eth0→out eth1",
		Bytes: 900, Reason: "in eth0, replies out eth1: 172.17.0.0/24 dev eth1 is more specific than eth0's 172.17.0.0/16",
		Fix: "netctl nic add --source-routing", LastSeen: now}
	if len(s.Problems) != 1 || s.Problems[0] != wantProblem {
		t.Errorf("problems %+v", s.Problems)
	}
	convs[0].Initiator = analysis.InitiatorLocal // the container connected out on eth1; the replies come in on eth0
	if p := topSample(snap, convs, nil, time.Minute).Problems; p[0].Where != "out eth1→in eth0" {
		t.Errorf("container-initiated: where %q", p[0].Where)
	}
	if want := []top.Kind{top.KindAsymmetric, top.KindWrongSource, top.KindFlooding}; !slices.Equal(s.Checked, want) {
		t.Errorf("checked %v, want %v", s.Checked, want)
	}
}

// Wrong-source replies and ongoing flooding are problems of their own kinds; flooding
// that stopped longer than idle ago is not.
func TestTopSampleWrongSourceAndFlooding(t *testing.T) {
	now := time.Now()
	a := netip.MustParseAddr
	snap := probe.Snapshot{Time: now,
		Interfaces: []probe.InterfaceCounters{{Port: probe.Port{Container: "c1", Interface: "eth0", HostInterface: "veth1", Bridge: "docker0"}}},
		Flooded: []probe.FloodedDest{
			{Bridge: "docker0", MAC: "02:42:ac:11:00:02", Container: "c1", Interface: "eth0", Packets: 10, Bytes: 980, LastSeen: now.Add(-time.Second)},
			{Bridge: "docker0", MAC: "02:42:ac:11:00:03", Container: "c2", Interface: "eth0", Packets: 1, Bytes: 98, LastSeen: now.Add(-time.Hour)},
			{Bridge: "docker0", MAC: "02:42:ac:11:00:77", Packets: 2, Bytes: 196, LastSeen: now.Add(-2 * time.Second)},
		}}
	ws := []analysis.WrongSource{{Container: "c1", Proto: 17, Requested: a("172.17.0.2"), RepliedFrom: a("172.17.0.99"), LocalPort: 7777,
		Remote: a("172.17.0.3"), RemotePort: 40000, InInterface: "eth0", OutInterface: "eth1", ReplyBytes: 420, LastSeen: now,
		Reason: "asked 172.17.0.2, answered from 172.17.0.99: a server bound to 0.0.0.0 takes the source of its route; fix: bind the server to 172.17.0.2"}}
	got := topSample(snap, nil, ws, time.Minute).Problems
	want := []top.Problem{
		{Kind: top.KindWrongSource, Container: "c1", Subject: "udp 172.17.0.3:40000 asked 172.17.0.2:7777, answered from 172.17.0.99",
			Where: "in eth0→out eth1", Bytes: 420, Reason: "asked 172.17.0.2, answered from 172.17.0.99: a server bound to 0.0.0.0 takes the source of its route",
			Fix: "bind the server to 172.17.0.2", LastSeen: now},
		{Kind: top.KindFlooding, Container: "c1", Subject: "frames for eth0 (02:42:ac:11:00:02)", Where: "bridge docker0", Bytes: 980,
			Reason: "docker0 has no FDB entry for eth0's MAC, so every frame for it goes to every port: an entry ages out when its interface sends nothing for the bridge's ageing_time (300 s), as eth0 does when the replies leave by another interface",
			Fix:    "make the container answer from eth0 (netctl nic add --source-routing); meanwhile bridge fdb add 02:42:ac:11:00:02 dev veth1 master static", LastSeen: now.Add(-time.Second)},
		{Kind: top.KindFlooding, Container: "unknown", Subject: "frames for 02:42:ac:11:00:77", Where: "bridge docker0", Bytes: 196,
			Reason: "docker0 floods the frames for 02:42:ac:11:00:77 to every port: no interface netctl watches has that MAC (a container gone while peers still send to it)",
			Fix:    "the senders' neighbour entries expire by themselves; ip neigh flush them sooner", LastSeen: now.Add(-2 * time.Second)},
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems\n%+v\nwant\n%+v", got, want)
	}
}

func TestTopBadFlags(t *testing.T) {
	for _, args := range [][]string{{"top", "--interval", "1ms"}, {"top", "--idle", "-1s"}, {"top", "--once", "extra"}} {
		if _, err := run(t, args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// The real binary in a real terminal (tmux, 80×24) against the lab with the seed's NIC
// and traffic: container1's eth0 receives and eth1 transmits, a sort key reorders the
// rows, the asymmetric conversations of container1 show with their reason, and q exits
// with the terminal left sane (out of the alternate screen, echo and line editing on).
func TestTopTmux(t *testing.T) {
	nstest.RequireRoot(t)
	tmuxBin, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("skipping: tmux not installed (Debian package tmux; 'make setup' installs it)")
	}
	bin := buildNetctl(t)
	l := cliLab(t) // a lab with a unique prefix, removed when the test ends
	// The binary's pins and records go to folders of this test.
	pins := filepath.Join("/sys/fs/bpf", nstest.UniqueName("nctop-"))
	env := []string{"NETCTL_BPF_DIR=" + pins, "NETCTL_STATE_DIR=" + t.TempDir()}
	t.Cleanup(func() { _ = os.RemoveAll(pins) })
	netctl := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("netctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	h, c1 := l.Host.Name, l.Container1.Name
	netctl("-n", h, "nic", "add", "netns:"+c1, "--address", "172.17.0.99/24", "--gateway", "172.17.0.1", "--default-route", "--arp-probe-wait", "0")
	t.Cleanup(func() { netctl("-n", h, "nic", "del", "netns:"+c1) })
	netctl("-n", h, "attach", "--bridge", "docker0")
	t.Cleanup(func() { netctl("-n", h, "detach") })

	// Traffic all along, bounded in time; stopped before the lab goes.
	tctx, stop := context.WithTimeout(context.Background(), 2*time.Minute)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for tctx.Err() == nil {
			_, _ = l.Traffic(tctx, lab.TrafficOptions{Count: 20, TCPBytes: 64 << 10, FlowTimeout: 5 * time.Second})
			select {
			case <-tctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { stop(); <-done })

	tm := newTmux(t, tmuxBin, 80, 24)
	tm.keys("env " + strings.Join(env, " ") + " " + bin + " -n " + h + " top --interval 500ms")
	tm.keys("Enter")

	// Interfaces: container1's eth0 receives, its eth1 transmits.
	rowOf := func(screen, ifc string) []string {
		for _, line := range strings.Split(screen, "\n") {
			if f := strings.Fields(line); len(f) >= 6 && strings.HasSuffix(f[0], "container1") && f[1] == ifc {
				return f
			}
		}
		return nil
	}
	moving := func(v string) bool { return v != "-" && v != "0B" }
	screen := tm.waitFor("container1's eth0 receiving and eth1 transmitting", func(s string) bool {
		eth0, eth1 := rowOf(s, "eth0"), rowOf(s, "eth1")
		return eth0 != nil && eth1 != nil && moving(eth0[2]) && moving(eth1[4]) && !moving(eth0[4])
	})
	t.Logf("interfaces at 80x24:\n%s", screen)
	if e0, e1 := lineOf(screen, c1, "eth0"), lineOf(screen, c1, "eth1"); !strings.Contains(screen, "CONTAINER▲") || e0 > e1 {
		t.Errorf("not sorted by name at first (eth0 on line %d, eth1 on %d):\n%s", e0, e1, screen)
	}

	// s three times: sorted by TX B/s, largest first; container1's eth1 now above eth0.
	tm.keys("s", "s", "s")
	screen = tm.waitFor("sorted by TX B/s", func(s string) bool {
		e0, e1 := lineOf(s, c1, "eth0"), lineOf(s, c1, "eth1")
		return strings.Contains(s, "TX B/s▼") && e0 >= 0 && e1 >= 0 && e1 < e0
	})
	t.Logf("sorted by TX B/s:\n%s", screen)

	// 3: the problems, container1's asymmetric conversations with their reason.
	tm.keys("3")
	screen = tm.waitFor("container1's asymmetric row with its reason", func(s string) bool {
		return problemRow(s, c1) && strings.Contains(s, "why: ") && strings.Contains(s, "dev eth1") && strings.Contains(s, "fix: netctl nic add --source-routing")
	})
	t.Logf("problems at 80x24:\n%s", screen)

	// q: back to the shell, out of the alternate screen, the terminal cooked.
	tm.keys("q")
	tm.waitFor("netctl to exit", func(string) bool { return tm.display("#{alternate_on} #{pane_current_command}") == "0 sh" })
	tm.keys("echo rc=$? ok-$((1+1))", "Enter")
	screen = tm.waitFor("the shell to echo and run a command", func(s string) bool {
		return strings.Contains(s, "echo rc=$? ok-$((1+1))") && strings.Contains(s, "rc=0 ok-2")
	})
	if strings.Contains(screen, "CONTAINER") {
		t.Errorf("top's screen left behind after q:\n%s", screen)
	}
}

// lineOf returns the index of the first line of s with container and interface as its
// first two fields, or -1.
func lineOf(s, container, ifc string) int {
	for i, line := range strings.Split(s, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasSuffix(container, strings.TrimPrefix(f[0], "…")) && f[1] == ifc {
			return i
		}
	}
	return -1
}

// problemRow reports whether s has a problems row of container: asymmetric, in on eth0
// and out on eth1.
func problemRow(s, container string) bool {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.HasSuffix(container, strings.TrimPrefix(f[0], "…")) && f[1] == "asymmetric" &&
			(strings.Join(f[2:5], " ") == "in eth0→out eth1" || strings.Join(f[2:5], " ") == "out eth1→in eth0") {
			return true
		}
	}
	return false
}

// buildNetctl builds the binary under test.
func buildNetctl(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building the binary under test needs go on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "netctl")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// tmuxSession is one tmux server of a test (its own socket), with one w×h pane running sh.
type tmuxSession struct {
	t    *testing.T
	bin  string
	sock string
}

func newTmux(t *testing.T, bin string, w, h int) *tmuxSession {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "tmux.conf")
	if err := os.WriteFile(conf, []byte("set -g status off\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tm := &tmuxSession{t: t, bin: bin, sock: filepath.Join(dir, "tmux.sock")}
	tm.run("-f", conf, "new-session", "-d", "-s", "top", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), "sh")
	t.Cleanup(func() { _, _ = tm.exec("kill-server") })
	if got := tm.display("#{window_width}x#{window_height}"); got != fmt.Sprintf("%dx%d", w, h) {
		t.Fatalf("tmux pane is %s, want %dx%d", got, w, h)
	}
	return tm
}

func (tm *tmuxSession) exec(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tm.bin, append([]string{"-S", tm.sock}, args...)...).CombinedOutput()
	return string(out), err
}

func (tm *tmuxSession) run(args ...string) string {
	tm.t.Helper()
	out, err := tm.exec(args...)
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// keys sends keys as tmux names them ("Enter", "s", or a whole line of text).
func (tm *tmuxSession) keys(keys ...string) {
	tm.t.Helper()
	tm.run(append([]string{"send-keys", "-t", "top"}, keys...)...)
}

func (tm *tmuxSession) display(format string) string {
	tm.t.Helper()
	return strings.TrimSpace(tm.run("display-message", "-p", "-t", "top", format))
}

func (tm *tmuxSession) capture() string {
	tm.t.Helper()
	return tm.run("capture-pane", "-p", "-t", "top")
}

// waitFor polls the screen until ok says yes, for at most 20 s, and returns it.
func (tm *tmuxSession) waitFor(what string, ok func(screen string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := tm.capture()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("waiting for %s: not within 20s; screen:\n%s", what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
