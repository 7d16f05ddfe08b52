//go:build linux

package netctl

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/netctl/netctl/internal/state"
)

// Persisted is a NIC that `netctl serve` puts back whenever its Docker container starts
// again (`nic add --persist`): a restart gives the container a new network namespace,
// and the NIC goes with the old one.
type Persisted struct {
	ContainerID string    `json:"container_id"`
	Container   string    `json:"container"` // its name when recorded, for display
	Bridge      string    `json:"bridge"`    // as given: a bridge or a Docker network, resolved again each time
	Spec        Spec      `json:"spec"`
	CreatedAt   time.Time `json:"created_at"`
}

// PersistStore keeps Persisted records under a root that outlives a reboot:
// <Dir>/nic/<container ID>/<name>.json, each written atomically.
type PersistStore struct {
	Dir string // "" means state.PersistDir()
}

func (s PersistStore) containerDir(id string) string {
	return filepath.Join(cmp.Or(s.Dir, state.PersistDir()), "nic", id)
}

func (s PersistStore) path(id, name string) string {
	return filepath.Join(s.containerDir(id), name+".json")
}

// validID keeps a container ID from naming another folder.
func validID(id string) error {
	if id == "" || strings.ContainsAny(id, "/.") {
		return fmt.Errorf("invalid container ID %q", id)
	}
	return nil
}

// Save records p, replacing the record of the same container and NIC name.
func (s PersistStore) Save(p Persisted) error {
	if err := validID(p.ContainerID); err != nil {
		return err
	}
	if err := state.WriteJSON(s.path(p.ContainerID, p.Spec.Name), p, 0o600); err != nil {
		return fmt.Errorf("persist nic: %w", err)
	}
	return nil
}

// Remove deletes the record of NIC name of container id; removed says whether there was one.
func (s PersistStore) Remove(id, name string) (removed bool, err error) {
	if validID(id) != nil {
		return false, nil
	}
	err = os.Remove(s.path(id, name))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("remove persisted nic: %w", err)
	}
	_ = os.Remove(s.containerDir(id)) // fails while other NICs of the container remain
	return true, nil
}

// RemoveContainer deletes every record of container id (it was removed for good) and
// returns how many there were.
func (s PersistStore) RemoveContainer(id string) (int, error) {
	recs, err := s.Container(id)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	if err := os.RemoveAll(s.containerDir(id)); err != nil {
		return 0, fmt.Errorf("remove persisted nics: %w", err)
	}
	return len(recs), nil
}

// Container returns the records of container id.
func (s PersistStore) Container(id string) ([]Persisted, error) {
	if validID(id) != nil {
		return nil, nil
	}
	ents, err := os.ReadDir(s.containerDir(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read persisted nics: %w", err)
	}
	var out []Persisted
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		var p Persisted
		if err := state.ReadJSON(filepath.Join(s.containerDir(id), e.Name()), &p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// All returns every record, container by container.
func (s PersistStore) All() ([]Persisted, error) {
	dirs, err := os.ReadDir(filepath.Join(cmp.Or(s.Dir, state.PersistDir()), "nic"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read persisted nics: %w", err)
	}
	var out []Persisted
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		recs, err := s.Container(d.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// Prune removes the records of containers that known says the engine no longer has
// (removed while nothing watched); a container it cannot tell about is kept. It returns
// the records removed.
func (s PersistStore) Prune(known func(id string) (known, ok bool)) ([]Persisted, error) {
	all, err := s.All()
	if err != nil {
		return nil, err
	}
	var out []Persisted
	done := map[string]bool{}
	for _, p := range all {
		if k, ok := known(p.ContainerID); !ok || k || done[p.ContainerID] {
			continue
		}
		done[p.ContainerID] = true
		recs, err := s.Container(p.ContainerID)
		if err != nil {
			return out, err
		}
		if _, err := s.RemoveContainer(p.ContainerID); err != nil {
			return out, err
		}
		out = append(out, recs...)
	}
	return out, nil
}
