//go:build linux

package nsutil_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
)

// Processes come last and only when asked for; this process is among them.
func TestListProcesses(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	isProc := func(e nsutil.Entry) bool { return e.Source == nsutil.FromProcess }
	if slices.ContainsFunc(nsutil.List(ctx, nsutil.ListOptions{}), isProc) {
		t.Error("List without Processes returned processes")
	}
	all := nsutil.List(ctx, nsutil.ListOptions{Processes: true})
	first := slices.IndexFunc(all, isProc)
	if first < 0 || slices.ContainsFunc(all[first:], func(e nsutil.Entry) bool { return !isProc(e) }) {
		t.Fatalf("processes not listed last: %+v", all)
	}
	self := nsutil.Entry{Source: nsutil.FromProcess, Path: fmt.Sprintf("/proc/%d/ns/net", os.Getpid()), PID: os.Getpid()}
	if !slices.Contains(all, self) {
		t.Errorf("this process (%+v) not listed", self)
	}
}

// A named namespace is listed by its name and path.
func TestListNamed(t *testing.T) {
	ns := nstest.NewNS(t)
	want := nsutil.Entry{Source: nsutil.FromNamed, Path: nsutil.NamedPath(ns.Name), Name: ns.Name}
	if got := nsutil.List(context.Background(), nsutil.ListOptions{}); !slices.Contains(got, want) {
		t.Errorf("%+v not listed: %+v", want, got)
	}
}

// A running Docker container is listed first, by its name, ID and process.
func TestListDocker(t *testing.T) {
	nstest.RequireDocker(t)
	name := nstest.DockerRun(t, true, "--network", "none")
	got := nsutil.List(context.Background(), nsutil.ListOptions{})
	i := slices.IndexFunc(got, func(e nsutil.Entry) bool { return e.Name == name })
	if i < 0 {
		t.Fatalf("container %s not listed: %+v", name, got)
	}
	e := got[i]
	if e.Source != nsutil.FromDocker || e.ID == "" || e.PID <= 0 || e.Path != fmt.Sprintf("/proc/%d/ns/net", e.PID) {
		t.Errorf("container %s listed as %+v", name, e)
	}
	if j := slices.IndexFunc(got, func(e nsutil.Entry) bool { return e.Source != nsutil.FromDocker }); j >= 0 && j < i {
		t.Errorf("a %v entry before the Docker container: %+v", got[j].Source, got)
	}
}
