package main

import (
	"os"
	"strings"
	"testing"
)

// serve refuses bad flags with one line before it attaches or pins anything.
func TestServeBadInputChangesNothing(t *testing.T) {
	l := cliLab(t)
	opts := useTestRoots(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--flow-idle-timeout", "-1s"}, "invalid --flow-idle-timeout"},
		{[]string{"--flow-idle-timeout", "0"}, "invalid --flow-idle-timeout"},
		{[]string{"--flow-entries", "4294967295"}, "invalid --flow-entries"},
		{[]string{"--flow-series-limit", "0"}, "invalid --flow-series-limit"},
		{[]string{"--web.config.file", "/nonexistent/web.yml"}, "--web.config.file"},
	} {
		_, err := run(t, append([]string{"-n", l.Host.Name, "serve"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("serve %v: %v, want one line containing %q", tc.args, err, tc.want)
		}
		if ents, _ := os.ReadDir(opts.BPFDir); len(ents) != 0 {
			t.Fatalf("serve %v left pins: %v", tc.args, ents)
		}
	}
}
