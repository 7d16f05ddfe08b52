//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"net"

	"github.com/netctl/netctl/internal/daemon"
)

// serveClaim is what serve holds before it attaches anything: its listeners (so a bad
// or busy --web.listen-address is refused first) and the lock that makes it the only
// serve of its host namespace.
type serveClaim struct {
	listeners []net.Listener
	release   func()
}

// claimServe opens serve's listeners (unless systemd passes them) and takes the lock of
// the host namespace -n selects; a second serve there fails at once, naming the first's
// PID. Nothing is attached or pinned yet. release undoes both (the daemon closes the
// listeners it was given when it stops; closing them twice is harmless).
func claimServe(g *globalOptions, listen []string, systemdSocket bool) (*serveClaim, error) {
	c := &serveClaim{release: func() {}}
	if !systemdSocket {
		ls, err := daemon.Listen(listen)
		if err != nil {
			return nil, err
		}
		c.listeners = ls
	}
	closeAll := func() {
		for _, l := range c.listeners {
			l.Close()
		}
	}
	host, _, err := openHost(g)
	if err != nil {
		closeAll()
		return nil, err
	}
	lock, err := daemon.Lock(g.stateDir, host)
	host.Close()
	if err != nil {
		closeAll()
		return nil, err
	}
	c.release = func() { closeAll(); lock.Unlock() }
	return c, nil
}
