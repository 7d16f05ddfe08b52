//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Listen opens the listeners of serve's --web.listen-address values (TCP) before
// anything is attached, so that an address that is malformed, not on this host or in use
// is refused up front with one line and nothing changed. On error nothing stays open.
func Listen(addrs []string) ([]net.Listener, error) {
	var out []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range out {
			l.Close()
		}
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, errors.New("no --web.listen-address given")
	}
	for _, a := range addrs {
		if strings.HasPrefix(a, "vsock://") {
			return fail(fmt.Errorf("invalid --web.listen-address %q: vsock is not supported; give [HOST]:PORT", a))
		}
		if err := checkListenAddress(a); err != nil {
			return fail(fmt.Errorf("invalid --web.listen-address %q: %w", a, err))
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			return fail(fmt.Errorf("invalid --web.listen-address %q: %w", a, unwrapOp(err)))
		}
		out = append(out, l)
	}
	return out, nil
}

// checkListenAddress refuses what net.Listen would take but no one means: an empty
// address (a random port on every interface) and port 0.
func checkListenAddress(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return errors.New("want [HOST]:PORT, like :10961 or 127.0.0.1:10961")
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("port %q: want 1 to 65535", port)
	}
	if strings.ContainsAny(host, " \t\n") {
		return fmt.Errorf("host %q has white space", host)
	}
	return nil
}

// unwrapOp keeps what matters of a *net.OpError ("bind: address already in use").
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return fmt.Errorf("%s: %w", op.Op, op.Err)
	}
	return err
}
