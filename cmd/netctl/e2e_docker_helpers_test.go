//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/netctl/netctl/internal/nstest"
)

// dockerOut runs the docker CLI (test setup only; netctl itself never does) and returns
// its trimmed output.
func dockerOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// dockerNetwork creates a user-defined bridge network, removed at cleanup, and returns
// its name, its bridge (br-…) and its subnet.
func dockerNetwork(t *testing.T) (name, bridge string, subnet netip.Prefix) {
	t.Helper()
	name = nstest.UniqueName("netctl-e2e-net-")
	id := dockerOut(t, "network", "create", name)
	t.Cleanup(func() { _ = exec.Command("docker", "network", "rm", name).Run() })
	subnet = netip.MustParsePrefix(dockerOut(t, "network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", name))
	return name, "br-" + id[:12], subnet
}

// bridgeSubnet returns the IPv4 subnet of a bridge of this namespace (docker0's).
func bridgeSubnet(t *testing.T, bridge string) netip.Prefix {
	t.Helper()
	l, err := netlink.LinkByName(bridge)
	if err != nil {
		t.Fatalf("%s: %v", bridge, err)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil || len(addrs) == 0 {
		t.Fatalf("%s has no IPv4 address: %v", bridge, err)
	}
	ones, _ := addrs[0].Mask.Size()
	a, _ := netip.AddrFromSlice(addrs[0].IP.To4())
	return netip.PrefixFrom(a, ones)
}

// spareAddr picks an address near the top of subnet (≤ /24), where Docker, which hands
// addresses out from the bottom, does not get to; random, so runs do not collide.
func spareAddr(subnet netip.Prefix) netip.Prefix {
	b := subnet.Masked().Addr().As4()
	n := binary.BigEndian.Uint32(b[:]) | (1<<(32-subnet.Bits()) - 1) // broadcast
	n -= 2 + rand.Uint32N(100)
	binary.BigEndian.PutUint32(b[:], n)
	return netip.PrefixFrom(netip.AddrFrom4(b), subnet.Bits())
}

// gatewayOf is the first address of subnet (Docker's gateway on its bridges).
func gatewayOf(subnet netip.Prefix) netip.Addr { return subnet.Masked().Addr().Next() }

// serveProc is `netctl serve` in a child process (this test binary, through TestMain),
// so its goroutines and open files are its own.
type serveProc struct {
	addr string
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

func (p *serveProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.Write(b)
}

// Log returns what serve logged so far.
func (p *serveProc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// startServeProc starts serve with args after the verb and waits until it is healthy;
// it is stopped (SIGTERM) at cleanup, or by stop.
func startServeProc(t *testing.T, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{addr: nstest.FreeAddr(t), done: make(chan struct{})}
	all := append([]string{"serve", "--web.listen-address", p.addr, "--detach-on-exit"}, args...)
	p.cmd = exec.Command(os.Args[0])
	p.cmd.Env = append(os.Environ(), "NETCTL_TEST_ARGS="+strings.Join(all, "\n"))
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop(t) })
	waitUntil(t, "serve healthy", 20*time.Second, func() bool {
		select {
		case <-p.done:
			t.Fatalf("serve exited:\n%s", p.Log())
		default:
		}
		resp, err := http.Get("http://" + p.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

func (p *serveProc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("serve did not stop on SIGTERM:\n%s", p.Log())
	}
}

// metrics returns serve's /metrics.
func (p *serveProc) metrics(t *testing.T) string { return get(t, "http://"+p.addr+"/metrics") }

// waitUntil polls ok every 50 ms until it holds, failing the test after d.
func waitUntil(t *testing.T, what string, d time.Duration, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > d {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// nicRow is what the e2e reads of `nic list -o json`.
type nicRow struct {
	Container, Interface, HostPeer, Bridge string
	Addresses                              []netip.Prefix
	DefaultRoute                           bool `json:"default_route"`
	ByNetctl                               bool `json:"by_netctl"`
	Persisted, Present                     bool
}

func nicList(t *testing.T, container string) []nicRow {
	t.Helper()
	out, err := run(t, "-o", "json", "nic", "list", container)
	if err != nil {
		t.Fatalf("nic list %s: %v\n%s", container, err, out)
	}
	var rows []struct {
		nicRow
		HostPeer string `json:"host_peer"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("nic list %s: %v\n%s", container, err, out)
	}
	var res []nicRow
	for _, r := range rows {
		r.nicRow.HostPeer = r.HostPeer
		res = append(res, r.nicRow)
	}
	return res
}

func rowOf(rows []nicRow, iface string) (nicRow, bool) {
	for _, r := range rows {
		if r.Interface == iface {
			return r, true
		}
	}
	return nicRow{}, false
}
