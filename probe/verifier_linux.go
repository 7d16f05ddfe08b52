//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
)

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
