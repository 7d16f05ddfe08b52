//go:build linux

package netctl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// interruptAdd leaves what a `nic add` killed after its first k steps leaves: the
// incomplete record and those steps done. noAlias: killed inside the veth step,
// between creating the veth and naming it.
func interruptAdd(t *testing.T, e *Env, spec Spec, k int, noAlias bool) Plan {
	t.Helper()
	p, err := e.Plan(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.write(Record{Plan: p, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Steps[:k] {
		if err := e.do(s); err != nil {
			t.Fatalf("step %s: %v", s.Kind, err)
		}
	}
	if noAlias {
		l, err := e.HostNL.LinkByName(p.HostName)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.HostNL.LinkSetAlias(l, ""); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// An add interrupted after any step: nic list says it is incomplete, the next add rolls
// it back and adds the NIC again, and nic del after it (or instead) restores exactly the
// state from before the interrupted add. No lock file or temporary file is left.
func TestInterruptedAddIsFinished(t *testing.T) {
	t.Parallel()
	l := testLab(t, false)
	e := envFor(t, l, l.Container1)
	spec := seedSpecLab()
	spec.SourceRouting = true
	p, err := e.Plan(spec)
	if err != nil {
		t.Fatal(err)
	}
	before := labState(t, l)
	type round struct {
		k       int
		noAlias bool
		redo    bool // recover with add (then del) rather than del
	}
	var rounds []round
	for k := 0; k <= len(p.Steps); k++ {
		rounds = append(rounds, round{k, false, k%2 == 0}, round{k, false, k%2 == 1})
	}
	rounds = append(rounds, round{1, true, true}, round{1, true, false})
	for _, r := range rounds {
		what := fmt.Sprintf("killed after step %d of %d (noAlias %v, redo %v)", r.k, len(p.Steps), r.noAlias, r.redo)
		interruptAdd(t, e, spec, r.k, r.noAlias)
		if r.k > 0 {
			ifs, err := e.ListInterfaces()
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, i := range ifs {
				if i.Interface == "eth1" {
					found = i.ByNetctl && i.Incomplete
				}
			}
			if !found {
				t.Fatalf("%s: nic list does not show eth1 as incomplete: %+v", what, ifs)
			}
		}
		if r.redo {
			if _, err := e.Add(spec, AddOptions{ARPProbeWait: -1}); err != nil {
				t.Fatalf("%s: the next add: %v", what, err)
			}
			rec, err := e.store.read(e.Ctr.Cookie, "eth1")
			if err != nil || !rec.Complete || !e.recordLive(rec) {
				t.Fatalf("%s: after the next add the record is %+v (%v)", what, rec, err)
			}
		}
		res, err := e.Del("eth1")
		if err != nil || (r.k > 0 || r.redo) && !res.Removed {
			t.Fatalf("%s: del: %+v, %v", what, res, err)
		}
		requireSame(t, what, before, labState(t, l))
		if n := e.store.names(e.Ctr.Cookie); len(n) != 0 {
			t.Fatalf("%s: records left: %v", what, n)
		}
		if ents, _ := os.ReadDir(filepath.Join(l.opts.StateDir, "lock")); len(ents) != 0 {
			t.Fatalf("%s: lock files left: %v", what, ents)
		}
	}
}

// A del interrupted midway (after the record was marked incomplete) is finished by the
// next del.
func TestInterruptedDelIsFinished(t *testing.T) {
	t.Parallel()
	l := testLab(t, false)
	e := envFor(t, l, l.Container1)
	before := labState(t, l)
	if _, err := e.Add(seedSpecLab(), AddOptions{ARPProbeWait: -1}); err != nil {
		t.Fatal(err)
	}
	r, err := e.store.read(e.Ctr.Cookie, "eth1")
	if err != nil {
		t.Fatal(err)
	}
	// What Del does before it was killed: the record marked incomplete, the default
	// route already put back (the first undo).
	r.Complete = false
	if err := e.store.write(*r); err != nil {
		t.Fatal(err)
	}
	last := r.Plan.Steps[len(r.Plan.Steps)-1]
	if err := e.undo(last); err != nil {
		t.Fatal(err)
	}
	res, err := e.Del("eth1")
	if err != nil || !res.Removed || !strings.Contains(res.Note, "interrupted") {
		t.Fatalf("del: %+v, %v", res, err)
	}
	requireSame(t, "interrupted del, finished", before, labState(t, l))
}
