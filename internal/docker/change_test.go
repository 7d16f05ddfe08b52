package docker

import (
	"slices"
	"testing"
)

func running(id, name string, pid int) Container {
	var c Container
	c.ID, c.Name = id, name
	c.State.Running, c.State.Pid = pid > 0, pid
	return c
}

func kinds(cs []Change) []ChangeKind {
	var out []ChangeKind
	for _, c := range cs {
		out = append(out, c.Kind)
	}
	return out
}

func TestDiffContainer(t *testing.T) {
	a := running("a", "web", 10)
	restarted := running("a", "web", 11)
	stopped := running("a", "web", 0)
	renamed := running("a", "api", 10)
	connected := running("a", "web", 10)
	connected.NetworkSettings.Networks = map[string]Endpoint{"net1": {NetworkID: "n1", IPAddress: "10.0.0.2"}}
	for _, tc := range []struct {
		name string
		old  *Container
		now  Container
		want []ChangeKind
	}{
		{"new and running", nil, a, []ChangeKind{ContainerStarted}},
		{"new and stopped", nil, stopped, nil},
		{"same", &a, a, nil},
		{"restarted: new process", &a, restarted, []ChangeKind{ContainerStarted}},
		{"started", &stopped, a, []ChangeKind{ContainerStarted}},
		{"stopped", &a, stopped, []ChangeKind{ContainerStopped}},
		{"renamed", &a, renamed, []ChangeKind{ContainerRenamed}},
		{"connected", &a, connected, []ChangeKind{ContainerNetworks}},
	} {
		got := DiffContainer(tc.old, tc.now)
		if !slices.Equal(kinds(got), tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, kinds(got), tc.want)
		}
		for _, c := range got {
			if c.Kind == ContainerRenamed && (c.OldName != "web" || c.Container.Name != "api") {
				t.Errorf("%s: rename %q → %q", tc.name, c.OldName, c.Container.Name)
			}
		}
	}
}

func TestDiffNetworks(t *testing.T) {
	n1, n2, n3 := Network{ID: "1", Name: "a"}, Network{ID: "2", Name: "b"}, Network{ID: "3", Name: "c"}
	got := DiffNetworks(map[string]Network{"1": n1, "2": n2}, map[string]Network{"2": n2, "3": n3})
	want := []Change{{Kind: NetworkRemoved, Network: n1}, {Kind: NetworkCreated, Network: n3}}
	if len(got) != 2 || got[0].Kind != want[0].Kind || got[0].Network.ID != "1" || got[1].Kind != want[1].Kind || got[1].Network.ID != "3" {
		t.Errorf("DiffNetworks = %+v, want %+v", got, want)
	}
	if got := DiffNetworks(nil, map[string]Network{"1": n1}); len(got) != 1 || got[0].Kind != NetworkCreated {
		t.Errorf("from nothing: %+v", got)
	}
}

func TestBridgeAndFind(t *testing.T) {
	def := Network{ID: "deae4ddcc6e6bbf0", Name: "bridge", Driver: "bridge", Options: map[string]string{BridgeNameOption: "docker0"}}
	user := Network{ID: "a36d9912f2c6ffff0000", Name: "dk-net", Driver: "bridge"}
	host := Network{ID: "1fd6e1443dd1", Name: "host", Driver: "host"}
	if def.Bridge() != "docker0" || user.Bridge() != "br-a36d9912f2c6" || host.Bridge() != "" {
		t.Errorf("bridges: %q %q %q", def.Bridge(), user.Bridge(), host.Bridge())
	}
	nets := []Network{def, user, host}
	if got := Bridges(nets); !slices.Equal(got, []string{"docker0", "br-a36d9912f2c6"}) {
		t.Errorf("Bridges = %v", got)
	}
	for ref, want := range map[string]string{"dk-net": "dk-net", "a36d9912f2c6": "dk-net", user.ID: "dk-net", "bridge": "bridge"} {
		if n, ok := FindNetwork(nets, ref); !ok || n.Name != want {
			t.Errorf("FindNetwork(%q) = %v %v, want %s", ref, n.Name, ok, want)
		}
	}
	for _, ref := range []string{"a36d", "nope", ""} {
		if n, ok := FindNetwork(nets, ref); ok {
			t.Errorf("FindNetwork(%q) found %s", ref, n.Name)
		}
	}
}
