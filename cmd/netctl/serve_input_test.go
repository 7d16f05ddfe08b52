//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"net"
	"os"
	"strings"
	"testing"
)

// serve refuses bad flags with one line before it attaches or pins anything.
func TestServeBadInputChangesNothing(t *testing.T) {
	l := cliLab(t)
	opts := useTestRoots(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--flow-idle-timeout", "-1s"}, "invalid --flow-idle-timeout"},
		{[]string{"--flow-idle-timeout", "0"}, "invalid --flow-idle-timeout"},
		{[]string{"--flow-entries", "4294967295"}, "invalid --flow-entries"},
		{[]string{"--flow-series-limit", "0"}, "invalid --flow-series-limit"},
		{[]string{"--web.config.file", "/nonexistent/web.yml"}, "--web.config.file"},
		{[]string{"--web.listen-address", "127.0.0.1:99999"}, "port \"99999\": want 1 to 65535"},
		{[]string{"--web.listen-address", "bogus"}, "want [HOST]:PORT"},
		{[]string{"--web.listen-address", ""}, "no --web.listen-address"},
		{[]string{"--web.listen-address", "192.0.2.1:10961"}, "cannot assign requested address"},
		{[]string{"--web.listen-address", busy.Addr().String()}, "address already in use"},
	} {
		_, err := run(t, append([]string{"-n", l.Host.Name, "serve"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("serve %v: %v, want one line containing %q", tc.args, err, tc.want)
		}
		if ents, _ := os.ReadDir(opts.BPFDir); len(ents) != 0 {
			t.Fatalf("serve %v left pins: %v", tc.args, ents)
		}
		if left := leftovers(t, opts.StateDir); len(left) != 0 {
			t.Fatalf("serve %v left state: %v", tc.args, left)
		}
	}
}
