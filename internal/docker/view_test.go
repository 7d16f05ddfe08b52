//go:build linux

package docker_test

import (
	"context"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/docker"
	"github.com/netctl/netctl/internal/nstest"
)

// proxy forwards a unix socket of the test's to the engine's, counting the connections
// open at once, and can cut them all (an engine restart, as the client sees it).
type proxy struct {
	path          string
	mu            sync.Mutex
	ln            net.Listener
	conns         []net.Conn
	open, maxOpen atomic.Int64
}

func newProxy(t *testing.T) *proxy {
	p := &proxy{path: filepath.Join(t.TempDir(), "docker.sock")}
	p.listen(t)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) listen(t *testing.T) {
	t.Helper()
	sock, err := docker.Socket()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", sock)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			if n := p.open.Add(1); n > p.maxOpen.Load() {
				p.maxOpen.Store(n)
			}
			go func() {
				var wg sync.WaitGroup
				wg.Go(func() { _, _ = io.Copy(up, c); up.Close() })
				wg.Go(func() { _, _ = io.Copy(c, up); c.Close() })
				wg.Wait()
				p.open.Add(-1)
			}()
		}
	}()
}

// cut closes the listener and every connection: the engine is gone for the client.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// changes collects what a view reports.
type changes struct {
	mu  sync.Mutex
	all []docker.Change
}

func (c *changes) add(ch docker.Change) { c.mu.Lock(); c.all = append(c.all, ch); c.mu.Unlock() }

func (c *changes) waitFor(t *testing.T, what string, ok func(docker.Change) bool) docker.Change {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c.mu.Lock()
		for _, ch := range c.all {
			if ok(ch) {
				c.mu.Unlock()
				return ch
			}
		}
		c.mu.Unlock()
	}
	t.Fatalf("the view never reported %s", what)
	return docker.Change{}
}

func dockerCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func runView(t *testing.T, v *docker.View) *changes {
	t.Helper()
	ch := &changes{}
	t.Cleanup(v.Subscribe(ch.add))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = v.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	ch.waitFor(t, "synced", func(c docker.Change) bool { return c.Kind == docker.Synced })
	return ch
}

// The view follows a container through start, rename, network connect, restart (a new
// process) and removal, and a network through creation and removal, from the engine's events.
func TestViewFollowsEvents(t *testing.T) {
	nstest.RequireDocker(t)
	c, _ := docker.Default()
	v := docker.NewView(c)
	ch := runView(t, v)
	if !v.Live() {
		t.Fatal("not live after the first sync")
	}

	name := nstest.DockerRun(t, true, "--network", "none")
	started := ch.waitFor(t, "the start of "+name, func(c docker.Change) bool {
		return c.Kind == docker.ContainerStarted && c.Container.Name == name
	})
	if started.Container.State.Pid <= 0 || started.Container.NetnsPath() == "" {
		t.Errorf("started without a process: %+v", started.Container.State)
	}
	list, err := v.Containers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range list {
		found = found || c.ID == started.Container.ID
	}
	if !found {
		t.Errorf("%s not among the view's containers", name)
	}

	renamed := nstest.UniqueName("netctl-test-")
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", renamed).Run() })
	dockerCmd(t, "rename", name, renamed)
	ch.waitFor(t, "the rename", func(c docker.Change) bool {
		return c.Kind == docker.ContainerRenamed && c.OldName == name && c.Container.Name == renamed
	})

	net := nstest.UniqueName("netctl-test-net-")
	dockerCmd(t, "network", "create", net)
	t.Cleanup(func() { _ = exec.Command("docker", "network", "rm", net).Run() })
	created := ch.waitFor(t, "the network's creation", func(c docker.Change) bool {
		return c.Kind == docker.NetworkCreated && c.Network.Name == net
	})
	if b := created.Network.Bridge(); b != "br-"+created.Network.ID[:12] {
		t.Errorf("network %s: bridge %q", net, b)
	}
	other := nstest.DockerRun(t, true)
	dockerCmd(t, "network", "connect", net, other)
	// Its start may be read after the connect (events are read one after the other):
	// then the start already shows the network.
	ch.waitFor(t, "the connect", func(c docker.Change) bool {
		_, on := c.Container.NetworkSettings.Networks[net]
		return (c.Kind == docker.ContainerNetworks || c.Kind == docker.ContainerStarted) && c.Container.Name == other && on
	})

	// The die event may be read when the container runs again: then there is no stop,
	// only the new process.
	dockerCmd(t, "restart", "-t", "0", renamed)
	ch.waitFor(t, "the new process", func(c docker.Change) bool {
		return c.Kind == docker.ContainerStarted && c.Container.Name == renamed && c.Container.State.Pid != started.Container.State.Pid
	})

	dockerCmd(t, "rm", "-f", renamed, other)
	ch.waitFor(t, "the removal", func(c docker.Change) bool {
		return c.Kind == docker.ContainerRemoved && c.Container.ID == started.Container.ID
	})
	if known, ok := v.Known(started.Container.ID); !ok || known {
		t.Errorf("removed container still known: %v %v", known, ok)
	}
	dockerCmd(t, "network", "rm", net)
	ch.waitFor(t, "the network's removal", func(c docker.Change) bool {
		return c.Kind == docker.NetworkRemoved && c.Network.Name == net
	})
}

// When the stream breaks, the view is not live (reads go to the engine), tries again
// with a backoff, and reports what happened meanwhile from a new listing.
func TestViewRelistsAfterABrokenStream(t *testing.T) {
	nstest.RequireDocker(t)
	p := newProxy(t)
	v := docker.NewView(docker.NewClient(p.path))
	ch := runView(t, v)

	p.cut()
	for deadline := time.Now().Add(5 * time.Second); v.Live(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("still live with the engine gone")
		}
	}
	if _, err := v.Containers(context.Background()); err == nil {
		t.Error("a read with the engine gone and the view not live succeeded")
	}
	name := nstest.DockerRun(t, true, "--network", "none") // while the view cannot see
	time.Sleep(300 * time.Millisecond)
	p.listen(t)
	ch.waitFor(t, "the start missed while the stream was down", func(c docker.Change) bool {
		return c.Kind == docker.ContainerStarted && c.Container.Name == name
	})
	for deadline := time.Now().Add(5 * time.Second); !v.Live(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not live again")
		}
	}
}

// One client holds at most MaxConns connections, however many calls run at once, and
// reuses them.
func TestClientBoundsConnections(t *testing.T) {
	nstest.RequireDocker(t)
	p := newProxy(t)
	c := docker.NewClient(p.path)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			if _, err := c.Networks(context.Background()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("200 concurrent calls: at most %d connections open at once", p.maxOpen.Load())
	if m := p.maxOpen.Load(); m > docker.MaxConns {
		t.Errorf("%d connections open at once, want ≤ %d", m, docker.MaxConns)
	}
	c.Close()
	for deadline := time.Now().Add(5 * time.Second); p.open.Load() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open after Close", p.open.Load())
		}
	}
}
