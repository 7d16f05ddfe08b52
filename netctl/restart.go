//go:build linux

package netctl

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
