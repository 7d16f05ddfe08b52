//go:build linux

package netctl

import (
	"context"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/docker"
)

func TestPersistStore(t *testing.T) {
	t.Parallel()
	s := PersistStore{Dir: t.TempDir()}
	spec := seedSpecLab()
	a := Persisted{ContainerID: "aaa", Container: "web", Bridge: "dk-net", Spec: spec}
	b := a
	b.Spec.Name = "eth2"
	c := Persisted{ContainerID: "ccc", Container: "db", Bridge: "docker0", Spec: spec}
	for _, p := range []Persisted{a, b, c} {
		if err := s.Save(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Save(Persisted{ContainerID: "../x", Spec: spec}); err == nil {
		t.Error("an ID naming another folder was accepted")
	}
	got, err := s.Container("aaa")
	if err != nil || len(got) != 2 || got[0].Bridge != "dk-net" || got[0].Spec.Addresses[0] != spec.Addresses[0] {
		t.Fatalf("Container(aaa) = %+v, %v", got, err)
	}
	if all, err := s.All(); err != nil || len(all) != 3 {
		t.Fatalf("All = %d records, %v", len(all), err)
	}
	if removed, err := s.Remove("aaa", "eth2"); !removed || err != nil {
		t.Errorf("Remove: %v %v", removed, err)
	}
	if removed, err := s.Remove("aaa", "eth2"); removed || err != nil {
		t.Errorf("Remove again: %v %v", removed, err)
	}
	// The engine no longer knows ccc; it cannot tell about aaa: only ccc's go.
	pruned, err := s.Prune(func(id string) (bool, bool) { return false, id == "ccc" })
	if err != nil || len(pruned) != 1 || pruned[0].ContainerID != "ccc" {
		t.Errorf("Prune = %+v, %v", pruned, err)
	}
	if all, _ := s.All(); len(all) != 1 || all[0].ContainerID != "aaa" {
		t.Errorf("after Prune: %+v", all)
	}
	if n, err := s.RemoveContainer("aaa"); n != 1 || err != nil {
		t.Errorf("RemoveContainer = %d, %v", n, err)
	}
}

func TestWithPersisted(t *testing.T) {
	t.Parallel()
	spec := seedSpecLab()
	rows := []Interface{
		{Container: "web", ContainerID: "aaa", Interface: "eth0", Present: true},
		{Container: "web", ContainerID: "aaa", Interface: "eth1", Present: true, ByNetctl: true},
	}
	recs := []Persisted{
		{ContainerID: "aaa", Container: "web", Bridge: "docker0", Spec: spec},
		{ContainerID: "bbb", Container: "old-name", Bridge: "dk-net", Spec: spec},
	}
	got := WithPersisted(slices.Clone(rows), recs, map[string]string{"bbb": "new-name"}, "")
	if len(got) != 3 || got[0].Persisted || !got[1].Persisted || !got[1].Present {
		t.Fatalf("rows: %+v", got)
	}
	if r := got[2]; r.Container != "new-name" || r.Interface != "eth1" || r.Present || !r.Persisted || r.Bridge != "dk-net" {
		t.Errorf("absent row: %+v", r)
	}
	if got := WithPersisted(slices.Clone(rows), recs, nil, "aaa"); len(got) != 2 {
		t.Errorf("for one container, another's record added: %+v", got)
	}
}

// A Docker container restarts (a new network namespace): without --persist, nic del
// says the NIC went with the old namespace; Reapply puts a persisted NIC back with the
// same address, default route and MAC, and leaves one that is there alone. The lab's
// host namespace stands for the host, so the machine's docker0 is not touched.
func TestReapplyAfterRestart(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	l := testLab(t, false)
	name := dockerRun(t, true, "--network", "none")
	ctx := context.Background()
	open := func() *Env {
		c, err := Resolve(ctx, Ref{RefDocker, name})
		if err != nil {
			t.Fatal(err)
		}
		e, err := NewEnv(l.Host.NS, NSView{Name: l.Host.Name}, c, l.opts)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	restart := func() {
		if out, err := exec.Command("docker", "restart", "-t", "0", name).CombinedOutput(); err != nil {
			t.Fatalf("docker restart: %v\n%s", err, out)
		}
	}
	e := open()
	spec := seedSpecLab()
	if _, err := e.Add(spec, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	restart()
	e = open()
	if _, err := e.ListInterfaces(); err != nil { // prunes stale records: not this one
		t.Fatal(err)
	}
	res, err := e.Del("eth1")
	e.Close()
	if err != nil || res.Removed || !strings.Contains(res.Note, "went with its old network namespace") {
		t.Errorf("nic del after a restart: %+v, %v", res, err)
	}
	e = open()
	if res, err := e.Del("eth1"); err != nil || !strings.Contains(res.Note, "nothing to remove") || strings.Contains(res.Note, "old network namespace") {
		t.Errorf("nic del again: %+v, %v", res, err)
	}
	e.Close()

	store := PersistStore{Dir: t.TempDir()}
	e = open()
	if _, err := e.Add(spec, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	link, err := e.CtrNL.LinkByName("eth1")
	if err != nil {
		t.Fatal(err)
	}
	spec.MAC = link.Attrs().HardwareAddr
	if err := store.Save(Persisted{ContainerID: e.Ctr.ID, Container: name, Bridge: "docker0", Spec: spec}); err != nil {
		t.Fatal(err)
	}
	id := e.Ctr.ID
	e.Close()
	opts := ReapplyOptions{Store: store, Env: l.opts, Docker: docker.DefaultView()}
	if rs, err := Reapply(ctx, l.Host.NS, NSView{Name: l.Host.Name}, id, opts); err != nil || len(rs) != 1 || !rs[0].Present || rs[0].Applied {
		t.Fatalf("Reapply with the NIC there: %+v, %v", rs, err)
	}
	restart()
	start := time.Now()
	rs, err := Reapply(ctx, l.Host.NS, NSView{Name: l.Host.Name}, id, opts)
	if err != nil || len(rs) != 1 || !rs[0].Applied || rs[0].Err != nil {
		t.Fatalf("Reapply after a restart: %+v, %v", rs, err)
	}
	t.Logf("put back in %s", time.Since(start).Round(time.Millisecond))
	e = open()
	defer e.Close()
	ifs, err := e.ListInterfaces()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ifs, func(i Interface) bool { return i.Interface == "eth1" })
	if i < 0 || !ifs[i].ByNetctl || !ifs[i].DefaultRoute || !slices.Contains(ifs[i].Addresses, netip.MustParsePrefix("172.17.0.99/24")) {
		t.Fatalf("after Reapply: %+v", ifs)
	}
	if l, err := e.CtrNL.LinkByName("eth1"); err != nil || l.Attrs().HardwareAddr.String() != spec.MAC.String() {
		t.Errorf("MAC after Reapply: %v, want %s", l.Attrs().HardwareAddr, spec.MAC)
	}
	if _, err := e.Del("eth1"); err != nil {
		t.Fatal(err)
	}
}
