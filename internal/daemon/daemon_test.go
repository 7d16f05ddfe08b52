//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/netctl/netctl/exporter"
	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
	"github.com/netctl/netctl/probe"
)

// testPaths returns probe options whose pin and state roots are folders of this test.
func testPaths(t *testing.T) probe.Options {
	return probe.Options{BPFDir: nstest.BPFDir(t), StateDir: t.TempDir()}
}

// start runs d until the returned stop is called; stop returns Run's error.
func start(t *testing.T, d *Daemon, addr string) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	waitFor(t, "healthy", func() bool {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("Run ended: %v", err)
		default:
		}
		return strings.TrimSpace(get(addr+"/healthz")) == "ok"
	})
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return")
			return nil
		}
	}
}

func get(u string) string {
	resp, err := http.Get("http://" + u)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

// The daemon in a namespace of its own with a bridge: it serves, its watcher attaches a
// port that appears after it started, it saves the collector's memory when it stops,
// and with DetachOnExit it removes the pins and that memory instead.
func TestRun(t *testing.T) {
	host, ctr := nstest.NewNS(t), nstest.NewNS(t)
	paths := testPaths(t)
	stateDir := paths.StateDir
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	if err := host.Link.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	if err := host.Link.LinkSetUp(br); err != nil {
		t.Fatal(err)
	}
	dp, err := probe.Open(host.Handle, paths)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dp.Close() })
	cookie, err := nsutil.Cookie(host.Handle)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Datapath: dp, Host: host.Handle, Bridges: []string{"br0"}, StateDir: stateDir,
		Attach:    func(ctx context.Context) ([]probe.Attachment, error) { return dp.AttachBridge(ctx, "br0") },
		Collector: exporter.CollectorOptions{FlowIdleTimeout: time.Minute},
		Version:   "v-test", Revision: "r-test",
		Logger: slog.New(slog.DiscardHandler),
	}
	addr := nstest.FreeAddr(t)
	opts.ListenAddresses = []string{addr}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(stateDir, "serve", strconv.FormatUint(cookie, 10)+".json") // an older serve's, unbounded
	if err := os.MkdirAll(filepath.Dir(old), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, []byte(`{"Version":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	stop := start(t, d, addr)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the older serve's JSON state is still there: %v", err)
	}
	if m := get(addr + "/metrics"); !strings.Contains(m, "netctl_up 1") || !strings.Contains(m, `netctl_build_info{goversion=`) {
		t.Errorf("/metrics lacks netctl_up 1 or netctl_build_info:\n%.2000s", m)
	}
	if f := strings.TrimSpace(get(addr + "/flows")); f != "[]" {
		t.Errorf("/flows without traffic: %q", f)
	}

	// A container comes: the watcher attaches its host-side veth.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vd0", MasterIndex: br.Attrs().Index},
		PeerName: "eth0", PeerNamespace: netlink.NsFd(ctr.Handle)}
	if err := host.Link.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	if err := host.Link.LinkSetUp(veth); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new port attached", func() bool {
		return strings.Contains(get(addr+"/metrics"), "netctl_attached_interfaces 1")
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if fi, err := os.Stat(StatePath(stateDir, cookie)); err != nil || fi.Size() == 0 {
		t.Fatalf("the collector's memory was not saved: %v", err)
	}
	if err := exporter.NewCollector(dp, exporter.CollectorOptions{}).LoadState(StatePath(stateDir, cookie)); err != nil {
		t.Fatalf("the saved memory does not load: %v", err)
	}
	if has, err := probe.HasPins(host.Handle, paths); !has || err != nil {
		t.Fatalf("pins gone without DetachOnExit: %v, %v", has, err)
	}

	// Again, detaching on exit: the pins and the memory go.
	opts.DetachOnExit = true
	addr = nstest.FreeAddr(t)
	opts.ListenAddresses = []string{addr}
	if d, err = New(opts); err != nil {
		t.Fatal(err)
	}
	if err := start(t, d, addr)(); err != nil {
		t.Fatalf("Run with DetachOnExit: %v", err)
	}
	if _, err := os.Stat(StatePath(stateDir, cookie)); !os.IsNotExist(err) {
		t.Errorf("the collector's memory is still there after detaching: %v", err)
	}
	if has, err := probe.HasPins(host.Handle, paths); has || err != nil {
		t.Errorf("pins still there after detaching: %v, %v", has, err)
	}
}
