//go:build linux

package netctl

import "slices"

// WithPersisted marks the rows of `nic list` that are persisted NICs, and adds a row,
// not present, for each persisted NIC that is not there now (its container stopped, or
// restarted while serve was not running). names gives the containers' current names by
// ID (a record keeps the name it was made under). With only, rows are added only for
// that container ID. It is pure.
func WithPersisted(rows []Interface, recs []Persisted, names map[string]string, only string) []Interface {
	for _, p := range recs {
		i := slices.IndexFunc(rows, func(r Interface) bool {
			return r.ContainerID == p.ContainerID && r.Interface == p.Spec.Name
		})
		if i >= 0 {
			rows[i].Persisted = true
			continue
		}
		if only != "" && p.ContainerID != only {
			continue
		}
		name := p.Container
		if n, ok := names[p.ContainerID]; ok {
			name = n
		}
		rows = append(rows, Interface{Container: name, Interface: p.Spec.Name, Addresses: p.Spec.Addresses,
			Bridge: p.Bridge, ContainerID: p.ContainerID, ByNetctl: true, Persisted: true})
	}
	return rows
}
