package docker

import (
	"maps"
	"slices"
)

// ChangeKind says what a Change is about.
type ChangeKind int

// What the view reports.
const (
	ContainerStarted  ChangeKind = iota + 1 // running with a new process, so a new network namespace
	ContainerStopped                        // no longer running; its namespace is gone
	ContainerRemoved                        // the engine no longer knows it (docker rm)
	ContainerRenamed                        // a new name; OldName has the old one
	ContainerNetworks                       // connected to or disconnected from a network
	NetworkCreated
	NetworkRemoved
	Synced // the view listed everything (first, and after each broken stream)
)

var kindNames = map[ChangeKind]string{
	ContainerStarted: "container started", ContainerStopped: "container stopped",
	ContainerRemoved: "container removed", ContainerRenamed: "container renamed",
	ContainerNetworks: "container networks", NetworkCreated: "network created",
	NetworkRemoved: "network removed", Synced: "synced",
}

func (k ChangeKind) String() string { return kindNames[k] }

// Change is one thing the view learned.
type Change struct {
	Kind      ChangeKind
	Container Container // as now (Removed: as last known)
	OldName   string    // ContainerRenamed
	Network   Network   // NetworkCreated, NetworkRemoved
}

// DiffContainer says what changed between what the view knew of a container (nil: not
// known) and what the engine says now. It is pure.
func DiffContainer(old *Container, now Container) []Change {
	var out []Change
	wasRunning := old != nil && old.State.Running
	switch {
	case now.State.Running && (!wasRunning || old.State.Pid != now.State.Pid):
		out = append(out, Change{Kind: ContainerStarted, Container: now})
	case !now.State.Running && wasRunning:
		out = append(out, Change{Kind: ContainerStopped, Container: now})
	}
	if old == nil {
		return out
	}
	if old.Name != now.Name {
		out = append(out, Change{Kind: ContainerRenamed, Container: now, OldName: old.Name})
	}
	if !maps.EqualFunc(old.NetworkSettings.Networks, now.NetworkSettings.Networks, func(a, b Endpoint) bool { return a == b }) {
		out = append(out, Change{Kind: ContainerNetworks, Container: now})
	}
	return out
}

// DiffNetworks reports the networks created and removed between old and now (by ID). It
// is pure.
func DiffNetworks(old, now map[string]Network) []Change {
	var out []Change
	for _, id := range slices.Sorted(maps.Keys(old)) {
		if _, ok := now[id]; !ok {
			out = append(out, Change{Kind: NetworkRemoved, Network: old[id]})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(now)) {
		if _, ok := old[id]; !ok {
			out = append(out, Change{Kind: NetworkCreated, Network: now[id]})
		}
	}
	return out
}
