package top

import (
	"slices"
	"testing"
	"time"
)

func TestGroupProblems(t *testing.T) {
	p := func(subject, reason string, last time.Duration, rate float64, known bool) ProblemRate {
		return ProblemRate{Problem: Problem{Kind: KindAsymmetric, Container: "c1", Subject: subject, Where: "in eth0→out eth1",
			Reason: reason, Fix: "fix it", LastSeen: t0.Add(last)}, BytesRate: rate, Known: known}
	}
	gs := groupProblems([]ProblemRate{
		p("a", "in eth0, replies out eth1: the /24", -5*time.Second, 100, true),
		p("b", "in eth0, replies out eth1: the default route", -90*time.Second, 0, false),
		p("c", "in eth0, replies out eth1: the /24", -time.Second, 0, false), // new: no rate yet
		p("d", "in eth0, replies out eth1: the /24", -3*time.Second, 50, true),
	}, t0)
	if len(gs) != 2 {
		t.Fatalf("groups %+v", gs)
	}
	g := gs[0]
	if g.count != 3 || !slices.Equal(g.subjects, []string{"c", "d", "a"}) || g.age != "1s" || g.why() != "the /24" {
		t.Errorf("first group %+v (why %q)", g, g.why())
	}
	if g := gs[1]; g.count != 1 || g.age != "1m" || g.subjects[0] != "b" {
		t.Errorf("second group %+v", g)
	}
	// SEEN sorts by the second: groups seen within the same second keep the name order.
	early, late := gs[0], gs[0]
	early.Reason, early.last = "a", t0.Add(100*time.Millisecond)
	late.Reason, late.last = "z", t0.Add(900*time.Millisecond)
	two := []problemGroup{late, early}
	sortRows(two, problemCols, columnIndex(problemCols, "SEEN"), false)
	if two[0].Reason != "a" {
		t.Errorf("seen in the same second, not by name: %q first", two[0].Reason)
	}
	late.last = t0.Add(1100 * time.Millisecond)
	two = []problemGroup{early, late}
	sortRows(two, problemCols, columnIndex(problemCols, "SEEN"), false)
	if two[0].Reason != "z" {
		t.Errorf("seen a second later, not first: %q first", two[0].Reason)
	}
	// The N column sorts by how many; reversed, fewest first.
	sortRows(gs, problemCols, columnIndex(problemCols, "N"), true)
	if gs[0].count != 1 {
		t.Errorf("N ascending: %d first", gs[0].count)
	}
	if age(t0, time.Time{}) != "-" || age(t0, t0.Add(-3*time.Hour)) != "3h" || age(t0, t0.Add(time.Second)) != "0s" {
		t.Error("age")
	}
}
