//go:build linux

// Package labtest brings the namespace lab (internal/lab) up for tests: one lab per test,
// removed when the test ends. It is test tooling: the netctl binary never imports it.
package labtest

import (
	"context"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/lab"
	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
)

// New brings a lab up for one test and removes it when the test ends, failing the test
// if anything of it is left. It skips the test unless it runs as root. An empty
// opts.Prefix becomes one unique to the call, and an empty opts.Dir the test's own
// temporary folder, so tests in parallel (and in other packages) never meet.
func New(t testing.TB, opts lab.Options) *lab.Lab {
	t.Helper()
	nstest.RequireRoot(t)
	if opts.Prefix == "" {
		opts.Prefix = nstest.UniqueName("lab")
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir() // before the cleanup below, so removed after it
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := lab.Up(ctx, opts)
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		l.Close()
		if _, err := lab.Down(opts.Dir, opts.Prefix); err != nil {
			t.Errorf("lab down: %v", err)
		}
		for _, n := range l.Spec.Namespaces {
			if nsutil.Exists(n.Name) {
				t.Errorf("lab down left netns %s", n.Name)
			}
		}
	})
	return l
}
