package docker

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Backoff of View.Run between a broken events stream and the next try.
const (
	minBackoff = 200 * time.Millisecond
	maxBackoff = 30 * time.Second
	// stableAfter is how long a stream must have lasted for the backoff to start over.
	stableAfter = 10 * time.Second
)

// View is an in-memory view of the engine's containers (name, ID, process, namespace,
// networks) and networks. While Run keeps it current through the /events stream, reads
// are answered from memory; otherwise (a one-shot command, an engine that went away)
// each read asks the engine. It is safe for concurrent use.
type View struct {
	c   *Client
	err error // why there is no client

	run        chan struct{} // holds one token: taken by Run
	mu         sync.RWMutex
	live       bool
	containers map[string]Container // every container the engine knows, by ID
	networks   map[string]Network   // by ID
	subs       map[int]func(Change)
	nextSub    int
	log        *slog.Logger
}

// NewView returns a view of the engine c talks to. Nothing is read before a read or Run.
func NewView(c *Client) *View {
	return &View{c: c, run: make(chan struct{}, 1), subs: map[int]func(Change){}, log: slog.Default()}
}

var (
	defaultViewOnce sync.Once
	defaultView     *View
)

// DefaultView returns the process's view, over Default's client. Whoever runs the
// process's event loop (netctl serve) calls its Run; everything else reads it.
func DefaultView() *View {
	defaultViewOnce.Do(func() {
		c, err := Default()
		defaultView = NewView(c)
		defaultView.err = err
	})
	return defaultView
}

// Client returns the view's client (nil when DOCKER_HOST names no unix socket).
func (v *View) Client() (*Client, error) { return v.c, v.err }

// SetLogger sets where Run logs the stream's breaks and recoveries.
func (v *View) SetLogger(l *slog.Logger) {
	v.mu.Lock()
	v.log = l
	v.mu.Unlock()
}

// Subscribe has fn hear of every change Run sees, in order, from Run's goroutine (fn
// must not block for long). The returned function unsubscribes.
func (v *View) Subscribe(fn func(Change)) (cancel func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	id := v.nextSub
	v.nextSub++
	v.subs[id] = fn
	return func() {
		v.mu.Lock()
		delete(v.subs, id)
		v.mu.Unlock()
	}
}

// Live reports whether the view is current: Run has listed everything and its events
// stream is open.
func (v *View) Live() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.live
}

// Containers returns the running containers.
func (v *View) Containers(ctx context.Context) ([]Container, error) {
	v.mu.RLock()
	if v.live {
		defer v.mu.RUnlock()
		var out []Container
		for _, c := range v.containers {
			if c.State.Running {
				out = append(out, c)
			}
		}
		slices.SortFunc(out, func(a, b Container) int { return strings.Compare(a.Name, b.Name) })
		return out, nil
	}
	v.mu.RUnlock()
	if v.err != nil {
		return nil, v.err
	}
	return v.c.List(ctx, false)
}

// Known reports whether the engine knows a container with this ID, running or not. ok
// is false when the view cannot tell (not live).
func (v *View) Known(id string) (known, ok bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	_, known = v.containers[id]
	return known, v.live
}

// Networks returns the engine's networks, sorted by name.
func (v *View) Networks(ctx context.Context) ([]Network, error) {
	v.mu.RLock()
	if v.live {
		defer v.mu.RUnlock()
		out := slices.Collect(maps.Values(v.networks))
		slices.SortFunc(out, func(a, b Network) int { return strings.Compare(a.Name, b.Name) })
		return out, nil
	}
	v.mu.RUnlock()
	if v.err != nil {
		return nil, v.err
	}
	return v.c.Networks(ctx)
}

// Run keeps the view current until ctx ends: it opens the events stream, lists every
// container and network, and follows the events. When the stream breaks (the engine
// restarted, or is not there yet) it waits, with a backoff, and starts over: the new
// listing's differences with the old view are reported as changes, so nothing that
// happened meanwhile is missed (the first listing reports nothing but Synced). It
// returns when ctx ends; a second Run at the same time waits for the first (or its own ctx).
func (v *View) Run(ctx context.Context) error {
	if v.err != nil {
		return v.err
	}
	select {
	case v.run <- struct{}{}:
		defer func() { <-v.run }()
	case <-ctx.Done():
		return nil
	}
	defer v.setLive(false)
	backoff := minBackoff
	for {
		start := time.Now()
		err := v.c.Events(ctx, func() error { return v.sync(ctx) }, v.handle)
		v.setLive(false)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("events stream ended")
		}
		if time.Since(start) > stableAfter {
			backoff = minBackoff
		}
		v.logger().Warn("docker events stream broke; listing again after a pause", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (v *View) logger() *slog.Logger {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.log
}

func (v *View) setLive(live bool) {
	v.mu.Lock()
	v.live = live
	v.mu.Unlock()
}

// sync lists everything again and reports the differences with what the view held.
func (v *View) sync(ctx context.Context) error {
	list, err := v.c.List(ctx, true)
	if err != nil {
		return err
	}
	ns, err := v.networksByID(ctx)
	if err != nil {
		return err
	}
	cs := make(map[string]Container, len(list))
	for _, c := range list {
		cs[c.ID] = c
	}
	v.mu.Lock()
	first := v.containers == nil // the first listing is the start, not a change
	changes := DiffNetworks(v.networks, ns)
	for id, old := range v.containers {
		if _, ok := cs[id]; !ok {
			changes = append(changes, Change{Kind: ContainerRemoved, Container: old})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(cs)) {
		var old *Container
		if o, ok := v.containers[id]; ok {
			old = &o
		}
		changes = append(changes, DiffContainer(old, cs[id])...)
	}
	v.containers, v.networks, v.live = cs, ns, true
	v.mu.Unlock()
	if first {
		changes = nil
	}
	v.emit(append(changes, Change{Kind: Synced})...)
	return nil
}

// handle applies one event: the container it is about is inspected again (or dropped
// when destroyed), the networks listed again.
func (v *View) handle(e Event) error {
	ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
	defer cancel()
	if e.Type == "network" {
		if e.Action == ActionConnect || e.Action == ActionDisconnect {
			return v.container(ctx, e.Actor.Attributes["container"], false)
		}
		ns, err := v.networksByID(ctx)
		if err != nil {
			return err
		}
		v.mu.Lock()
		changes := DiffNetworks(v.networks, ns)
		v.networks = ns
		v.mu.Unlock()
		v.emit(changes...)
		return nil
	}
	return v.container(ctx, e.Actor.ID, e.Action == ActionDestroy)
}

// networksByID lists the engine's networks, by ID.
func (v *View) networksByID(ctx context.Context) (map[string]Network, error) {
	nets, err := v.c.Networks(ctx)
	if err != nil {
		return nil, err
	}
	ns := make(map[string]Network, len(nets))
	for _, n := range nets {
		ns[n.ID] = n
	}
	return ns, nil
}

// container inspects the container id again (destroyed: drops it) and reports what changed.
func (v *View) container(ctx context.Context, id string, destroyed bool) error {
	if id == "" {
		return nil
	}
	var now *Container
	if !destroyed {
		c, err := v.c.Inspect(ctx, id)
		if err != nil && !errors.Is(err, ErrNoSuchContainer) {
			return err
		}
		now = c
	}
	v.mu.Lock()
	old, had := v.containers[id]
	var changes []Change
	switch {
	case now == nil && had:
		delete(v.containers, id)
		changes = []Change{{Kind: ContainerRemoved, Container: old}}
	case now != nil && had:
		v.containers[id] = *now
		changes = DiffContainer(&old, *now)
	case now != nil:
		v.containers[id] = *now
		changes = DiffContainer(nil, *now)
	}
	v.mu.Unlock()
	v.emit(changes...)
	return nil
}

func (v *View) emit(changes ...Change) {
	if len(changes) == 0 {
		return
	}
	v.mu.RLock()
	subs := slices.Collect(maps.Values(v.subs))
	v.mu.RUnlock()
	for _, c := range changes {
		for _, fn := range subs {
			fn(c)
		}
	}
}
