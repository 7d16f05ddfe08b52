//go:build linux

package netctl

import (
	"context"
	"time"

	"github.com/netctl/netctl/internal/docker"
)

// wentWithOldNamespace reports whether netctl made the NIC name in an earlier network
// namespace of the same Docker container: a record with the container's ID, made in a
// namespace other than its current one. The container restarted since, and the NIC
// went with the old namespace.
func (e *Env) wentWithOldNamespace(name string) bool {
	if e.Ctr.ID == "" {
		return false
	}
	for _, cookie := range e.store.cookies() {
		if cookie == e.Ctr.Cookie {
			continue
		}
		if r, err := e.store.read(cookie, name); err == nil && r.Plan.ContainerID == e.Ctr.ID {
			return true
		}
	}
	return false
}

// forgetOldNamespaces removes the records of NIC name made in earlier namespaces of the
// container (said once by nic del; then forgotten).
func (e *Env) forgetOldNamespaces(name string) {
	for _, cookie := range e.store.cookies() {
		if r, err := e.store.read(cookie, name); err == nil && cookie != e.Ctr.Cookie && r.Plan.ContainerID == e.Ctr.ID {
			_ = e.store.remove(cookie, name)
		}
	}
}

// keepForRestart reports whether a stale record (its veth gone) of a Docker container's
// NIC is kept rather than pruned: while the engine still knows the container, so that
// nic del on it can say that the NIC went with its old namespace. It goes once the
// container is removed, or nic del said so.
func keepForRestart(r *Record) bool {
	if r.Plan.ContainerID == "" {
		return false
	}
	c, err := docker.Default()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = c.Inspect(ctx, r.Plan.ContainerID)
	return err == nil
}
