//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// Counter is the loaded counter programs and their map. It is not attached anywhere
// until AttachTCX is called; Close releases it (attachments made by AttachTCX stay
// until their links are closed).
type Counter struct {
	objs netctlObjects
}

// Load loads the counter programs and map into the kernel. A verifier rejection is
// returned with the verifier's whole log.
func Load() (*Counter, error) {
	var objs netctlObjects
	if err := loadNetctlObjects(&objs, nil); err != nil {
		return nil, fmt.Errorf("load counter programs: %w", withVerifierLog(err))
	}
	return &Counter{objs: objs}, nil
}

// withVerifierLog makes err print the verifier's whole log when it carries one: a
// *ebpf.VerifierError prints only its last line with %v and all of it with %+v.
func withVerifierLog(err error) error {
	var ve *ebpf.VerifierError
	if !errors.As(err, &ve) {
		return err
	}
	return &verifierLogError{err: err, ve: ve}
}

type verifierLogError struct {
	err error
	ve  *ebpf.VerifierError
}

func (e *verifierLogError) Error() string {
	// Replace the one-line form of the verifier error at the end of the chain with
	// the whole log, keeping the context (which program) in front of it.
	return strings.TrimSuffix(e.err.Error(), e.ve.Error()) + fmt.Sprintf("%+v", e.ve)
}

func (e *verifierLogError) Unwrap() error { return e.err }

// AttachTCX attaches the program for dir to the interface ifindex with TCX (Linux 6.6)
// and returns the link; closing the link detaches the program. ifindex is looked up in
// the calling thread's network namespace: for an interface in another namespace, call
// AttachTCX inside nsutil.Do. The programs take the same places as the datapath's
// (see tcxOptions).
func (c *Counter) AttachTCX(ifindex int, dir Direction) (link.Link, error) {
	opts, err := tcxOptions(ifindex, dir, c.objs.NetctlIngress, c.objs.NetctlEgress)
	if err != nil {
		return nil, fmt.Errorf("attach tcx on ifindex %d: %w", ifindex, err)
	}
	l, err := link.AttachTCX(opts)
	if err != nil {
		return nil, fmt.Errorf("attach tcx %v on ifindex %d: %w", dir, ifindex, err)
	}
	return l, nil
}

// Read returns the current totals of every counter, the per-CPU copies summed.
func (c *Counter) Read() (map[TotalsKey]Totals, error) {
	return readTotals(c.objs.TotalsByIndex, c.objs.Totals)
}

// readTotals reads both totals maps, the array (slot = ifindex*2+direction, zero slots
// left out) and the hash, into one map, per-CPU copies summed.
func readTotals(byIndex, hash *ebpf.Map) (map[TotalsKey]Totals, error) {
	out := make(map[TotalsKey]Totals)
	var raw []RawTotals
	raw, err := readTotalsArray(mapRefs{totalsIdx: byIndex}, raw)
	if err != nil {
		return nil, err
	}
	for _, r := range raw {
		out[TotalsKey{Ifindex: uint32(r.Ifindex), Dir: r.Dir}] = r.Totals
	}
	var (
		key    TotalsKey
		perCPU []Totals
	)
	it := hash.Iterate()
	for it.Next(&key, &perCPU) {
		out[key] = sumPerCPU(perCPU)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read totals: %w", err)
	}
	return out, nil
}

// Close unloads the programs and the map from this process. Attached links keep
// their program alive until they are closed.
func (c *Counter) Close() error {
	if err := c.objs.Close(); err != nil {
		return fmt.Errorf("close counter objects: %w", err)
	}
	return nil
}
