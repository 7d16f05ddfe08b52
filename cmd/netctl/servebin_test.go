//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/lab"
	"github.com/netctl/netctl/internal/lab/labtest"
	"github.com/netctl/netctl/internal/nstest"
)

// The serve benchmarks and load tests run the netctl binary as a user does, in a process
// of its own, so its memory is its own: built apart, without -race (startServeProc runs
// this test binary instead, which make test builds with -race, whose memory says nothing
// of serve's).

// netctlBinary builds the static netctl binary for tb, in its temporary folder (the
// build cache makes it a link).
func netctlBinary(tb testing.TB) string {
	tb.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		tb.Skipf("skipping: building the netctl binary needs go on PATH (make test-kernels' VM has none): %v", err)
	}
	bin := filepath.Join(tb.TempDir(), "netctl")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveBin is a `netctl serve` process of the static binary, with pin and state
// folders of its own.
type serveBin struct {
	tb          testing.TB
	bin, host   string
	env         []string
	stateDir    string
	flags       []string
	addr        string
	cmd         *exec.Cmd
	logPath     string // serve's output, appended to across starts
	exited      chan struct{}
	ListenAfter time.Duration // from exec to the port accepting connections
	HealthAfter time.Duration // from exec to /healthz answering ok
}

// newServeBin prepares (does not start) serve for host namespace host; flags go after
// the serve verb.
func newServeBin(tb testing.TB, host string, flags ...string) *serveBin {
	tb.Helper()
	pin, state := nstest.BPFDir(tb), tb.TempDir()
	p := &serveBin{tb: tb, bin: netctlBinary(tb), host: host, stateDir: state, flags: flags, logPath: filepath.Join(tb.TempDir(), "serve.log"),
		env: append(os.Environ(), "NETCTL_BPF_DIR="+pin, "NETCTL_STATE_DIR="+state)}
	tb.Cleanup(func() {
		p.Stop()
		det := exec.Command(p.bin, "-n", host, "detach")
		det.Env = p.env
		_ = det.Run()
	})
	return p
}

// Start runs serve on a free loopback port and waits until /healthz says ok.
func (p *serveBin) Start() {
	tb := p.tb
	tb.Helper()
	p.addr = nstest.FreeAddr(tb)
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	defer logf.Close() // the child has its own copy
	p.cmd = exec.Command(p.bin, append([]string{"-n", p.host, "--log-level", "warn", "serve", "--web.listen-address", p.addr}, p.flags...)...)
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(exited) }()
	p.ListenAfter, p.HealthAfter = 0, 0
	for deadline := start.Add(60 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		select {
		case <-exited:
			tb.Fatalf("serve exited: %s", p.log())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("serve did not become healthy: %s", p.log())
		}
		if p.ListenAfter == 0 {
			c, err := net.DialTimeout("tcp", p.addr, 100*time.Millisecond)
			if err != nil {
				continue
			}
			c.Close()
			p.ListenAfter = time.Since(start)
		}
		if body, code, _ := httpGet("http://"+p.addr+"/healthz", 2*time.Second); code == 200 && strings.TrimSpace(body) == "ok" {
			p.HealthAfter = time.Since(start)
			break
		}
	}
	p.exited = exited
}

// Stop sends SIGTERM and waits for serve to exit (it saves its state on the way out).
func (p *serveBin) Stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		p.tb.Errorf("serve did not stop on SIGTERM: %s", p.log())
	}
	p.cmd = nil
}

// URL returns the address of path on serve.
func (p *serveBin) URL(path string) string { return "http://" + p.addr + path }

// Status reads a field of /proc/PID/status (VmRSS, VmHWM) in bytes.
func (p *serveBin) Status(field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return -1
}

// StateSize returns the bytes of the files under serve's state folder "serve".
func (p *serveBin) StateSize() int64 {
	var n int64
	_ = filepath.Walk(filepath.Join(p.stateDir, "serve"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// httpGet fetches u with a timeout and returns the body and status code.
func httpGet(u string, timeout time.Duration) (string, int, error) {
	c := http.Client{Timeout: timeout}
	resp, err := c.Get(u)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

// timedGet fetches u and returns how long it took, the body and any failure.
func timedGet(u string) (time.Duration, string, error) {
	start := time.Now()
	body, code, err := httpGet(u, 60*time.Second)
	d := time.Since(start)
	if err == nil && code != 200 {
		err = fmt.Errorf("GET %s: status %d: %.200s", u, code, body)
	}
	return d, body, err
}

// loadAvg returns the first field of /proc/loadavg.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// log returns what serve wrote so far.
func (p *serveBin) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// labNS is what the load needs of a lab: the host namespace (its name for -n) and
// container2, with their addresses, neighbours already resolved.
type labNS struct {
	name              string
	host, ctr         netns.NsHandle
	hostAddr, ctrAddr netip.Addr
	ctrName           string          // container2's netns, its container label
	ctrLink           *netlink.Handle // netlink in container2
}

func benchLab(tb testing.TB) labNS {
	tb.Helper()
	l := labtest.New(tb, lab.Options{})
	for _, c := range [][2]string{{l.Host.Name, l.Container2.Addr4.String()}, {l.Container2.Name, l.Host.Addr4.String()}} {
		if out, err := exec.Command("ip", "netns", "exec", c[0], "ping", "-q", "-c", "1", "-W", "2", c[1]).CombinedOutput(); err != nil {
			tb.Fatalf("ping %s from %s: %v\n%s", c[1], c[0], err, out)
		}
	}
	return labNS{name: l.Host.Name, host: l.Host.NS, ctr: l.Container2.NS, hostAddr: l.Host.Addr4, ctrAddr: l.Container2.Addr4,
		ctrName: l.Container2.Name, ctrLink: l.Container2.Netlink}
}
