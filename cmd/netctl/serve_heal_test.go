//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"bufio"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/nstest"
)

// counterWatch scrapes /metrics and fails the test when any netctl counter went down
// since the previous scrape.
type counterWatch struct {
	t    *testing.T
	addr string
	last map[string]float64
}

func (w *counterWatch) scrape() string {
	w.t.Helper()
	m := get(w.t, "http://"+w.addr+"/metrics")
	sc := bufio.NewScanner(strings.NewReader(m))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.HasPrefix(f[0], "netctl_") || !strings.Contains(f[0], "_total") {
			continue
		}
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		k := strings.Join(f[:len(f)-1], " ")
		if old, ok := w.last[k]; ok && v < old {
			w.t.Errorf("%s went down: %v → %v", k, old, v)
		}
		w.last[k] = v
	}
	return m
}

// Never silently wrong, with real processes: serve in the lab; `netctl detach`
// behind its back, and 6 s later 20 pings are counted on /metrics; `detach; attach`,
// and counting goes on within 5 s; no counter ever goes down; a second serve of the
// same namespace exits at once naming the first's PID.
func TestServeOwnsItsAttachment(t *testing.T) {
	l := cliLab(t)
	opts := useTestRoots(t)
	p := startServeProc(t, "-n", l.Host.Name, "--bridge", "docker0", "--log-level", "warn")
	addr := p.addr
	w := &counterWatch{t: t, addr: addr, last: map[string]float64{}}
	rx := `netctl_interface_receive_packets_total{bridge="docker0",container="` + l.Container1.Name + `",host_interface="veth-c1",interface="eth0"}`
	netctl := func(args ...string) string {
		t.Helper()
		out, err := netctlProc(opts.StateDir, append([]string{"-n", l.Host.Name}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("netctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	counted := func(what string, within time.Duration) {
		t.Helper()
		before := sample(w.scrape(), rx)
		pingFrom(t, l.Container2.Name, l.Container1.Addr4.String(), 20)
		deadline := time.Now().Add(within)
		for sample(w.scrape(), rx) < before+20 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: 20 pings not counted within %s (%v → %v)", what, within, before, sample(w.scrape(), rx))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	counted("at start", 5*time.Second)

	start := time.Now()
	second := netctlProc(opts.StateDir, "-n", l.Host.Name, "serve", "--bridge", "docker0", "--web.listen-address", nstest.FreeAddr(t))
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another netctl serve (pid "+strconv.Itoa(p.cmd.Process.Pid)+")") {
		t.Errorf("a second serve: %v\n%s\nwant it refused, naming pid %d", err, out, p.cmd.Process.Pid)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the second serve took %s to give up", took)
	}

	netctl("detach")
	time.Sleep(6 * time.Second)
	counted("6 s after a detach", 2*time.Second)

	netctl("detach")
	netctl("attach")
	counted("after detach; attach", 5*time.Second)
	if n := sample(w.scrape(), "netctl_reattach_total"); n != 2 {
		t.Errorf("netctl_reattach_total %v, want 2", n)
	}
	if h := get(t, "http://"+addr+"/healthz"); h != "ok\n" {
		t.Errorf("/healthz: %q", h)
	}
}
