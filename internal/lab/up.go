//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nlutil"
	"github.com/netctl/netctl/internal/nsutil"
)

// Options configure Up.
type Options struct {
	Prefix string // namespace name prefix; DefaultPrefix if empty
	IPv6   bool   // keep IPv6 on and give every interface an IPv6 address too
	Dir    string // folder of lab records; DefaultDir() if empty
	// Container3 adds a third container on docker0 (Spec.WithContainer3).
	Container3 bool

	// beforeStep, if set, runs before step i and can fail it (tests force failures).
	beforeStep func(i int, st step) error
}

// Up builds the lab described by NewSpec(opts.Prefix, opts.IPv6) (WithContainer3 if
// opts.Container3) and returns handles to
// it. It is atomic: if any step fails, everything made so far is removed and the error
// names the failing step. It returns once every interface it set up has carrier. It
// fails without changing anything if a lab with the prefix exists or if one of the
// namespace names is taken.
func Up(ctx context.Context, opts Options) (*Lab, error) {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	spec, err := NewSpec(prefix, opts.IPv6)
	if err != nil {
		return nil, err
	}
	if opts.Container3 {
		spec = spec.WithContainer3()
	}
	rec := &record{Prefix: prefix, IPv6: opts.IPv6, Container3: opts.Container3, Created: time.Now().UTC()}
	if err := reserveRecord(opts.Dir, rec); err != nil {
		return nil, err
	}
	for _, n := range spec.Namespaces {
		if nsutil.Exists(n.Name) {
			_ = removeRecord(opts.Dir, prefix)
			return nil, fmt.Errorf("lab up %s: netns %s already exists and is not part of a lab; remove it or choose another --prefix", prefix, n.Name)
		}
	}
	b := &builder{spec: spec, dir: opts.Dir, rec: rec, lab: &Lab{Spec: spec}}
	steps := plan(spec)
	for i, st := range steps {
		err := ctx.Err()
		if err == nil && opts.beforeStep != nil {
			err = opts.beforeStep(i, st)
		}
		if err == nil {
			err = st.do(b)
		}
		if err != nil {
			return nil, errors.Join(
				fmt.Errorf("lab up %s: step %d/%d (%s): %w", prefix, i+1, len(steps), st.cmd, err),
				b.rollback())
		}
		slog.Debug("lab up", "step", st.cmd)
	}
	if err := b.lab.waitRunning(ctx, 5*time.Second); err != nil {
		return nil, errors.Join(fmt.Errorf("lab up %s: %w", prefix, err), b.rollback())
	}
	rec.Complete = true
	if err := saveRecord(opts.Dir, rec); err != nil {
		return nil, errors.Join(fmt.Errorf("lab up %s: %w", prefix, err), b.rollback())
	}
	return b.lab, nil
}

// waitRunning waits until every interface that is up is also running (has carrier). The
// kernel turns a veth's carrier on a moment after both ends are up; a lab read at once
// should look as it will a moment later.
func (l *Lab) waitRunning(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var waiting []string
		for _, n := range l.Namespaces() {
			links, err := nlutil.Dump(n.Netlink.LinkList)
			if err != nil {
				return fmt.Errorf("list links in netns %s: %w", n.Name, err)
			}
			for _, k := range links {
				if a := k.Attrs(); a.Flags&net.FlagUp != 0 && a.RawFlags&unix.IFF_RUNNING == 0 {
					waiting = append(waiting, n.Name+"/"+a.Name)
				}
			}
		}
		switch {
		case len(waiting) == 0:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("no carrier after %s on %s", timeout, strings.Join(waiting, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// builder applies steps and remembers what it made so that it can undo it.
type builder struct {
	spec    Spec
	dir     string // of the record
	rec     *record
	lab     *Lab
	created []*Namespace // namespaces made so far, in order
}

// createNS creates the namespace of role and records it before anything goes inside.
func (b *builder) createNS(role Role) error {
	name := b.spec.Name(role)
	h, err := nsutil.CreateNamed(name)
	if err != nil {
		return err
	}
	n, err := newNamespace(b.spec, role, h)
	if err != nil {
		h.Close()
		return errors.Join(err, nsutil.DeleteNamed(name))
	}
	b.lab.set(n)
	b.created = append(b.created, n)
	cookie, err := nsutil.Cookie(h)
	if err != nil {
		return err
	}
	b.rec.Namespaces = append(b.rec.Namespaces, recordNS{Role: role, Name: name, Cookie: cookie})
	return saveRecord(b.dir, b.rec)
}

// rollback removes every namespace Up made (which removes every link, address and route
// in them) and the record.
func (b *builder) rollback() error {
	var errs []error
	for _, n := range slices.Backward(b.created) {
		n.close()
		if err := nsutil.DeleteNamed(n.Name); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, removeRecord(b.dir, b.spec.Prefix))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("undo lab up: %w", err)
	}
	return nil
}

// Down removes the lab with prefix whose record is in dir ("" for DefaultDir()): exactly
// the namespaces its Up made (and with them every interface, address and route inside),
// then its record. A namespace that has the lab's name but is not the one Up made is
// left alone, with a warning. Down of a prefix with no lab is not an error and reports
// removed=false.
func Down(dir, prefix string) (removed bool, err error) {
	if err := ValidatePrefix(prefix); err != nil {
		return false, err
	}
	rec, err := readRecord(dir, prefix)
	if errors.Is(err, ErrNoLab) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lab down %s: %w", prefix, err)
	}
	var errs []error
	for _, rn := range slices.Backward(rec.Namespaces) {
		ok, err := rn.owns()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			if nsutil.Exists(rn.Name) {
				slog.Warn("lab down: leaving a namespace that 'lab up' did not make", "netns", rn.Name)
			}
			continue
		}
		if err := nsutil.DeleteNamed(rn.Name); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, removeRecord(dir, prefix))
	}
	if err := errors.Join(errs...); err != nil {
		return true, fmt.Errorf("lab down %s: %w", prefix, err)
	}
	return true, nil
}
