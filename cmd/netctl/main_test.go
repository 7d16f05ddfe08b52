//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"bytes"
	"strings"
	"testing"
)

// run executes the root command with args and returns stdout and the error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// Every documented command must be reachable, so that --help shows the whole product.
func TestContractCommandsExist(t *testing.T) {
	root := newRootCmd()
	root.InitDefaultCompletionCmd() // cobra adds it lazily at Execute
	for _, path := range [][]string{
		{"nic", "add"}, {"nic", "del"}, {"nic", "list"},
		{"attach"}, {"detach"}, {"status"}, {"flows"}, {"serve"}, {"top"},
		{"lab", "up"}, {"lab", "status"}, {"lab", "traffic"}, {"lab", "down"},
		{"doctor"}, {"version"}, {"completion"},
	} {
		c, rest, err := root.Find(path)
		if err != nil || len(rest) != 0 || c.Name() != path[len(path)-1] {
			t.Errorf("command %q not found (got %v, rest %v, err %v)", strings.Join(path, " "), c.Name(), rest, err)
			continue
		}
		if c.Short == "" {
			t.Errorf("command %q has no help text", strings.Join(path, " "))
		}
	}
	for _, f := range []string{"netns", "output", "log-level"} {
		if root.PersistentFlags().Lookup(f) == nil {
			t.Errorf("global flag --%s missing", f)
		}
	}
	if root.PersistentFlags().ShorthandLookup("n") == nil || root.PersistentFlags().ShorthandLookup("o") == nil {
		t.Error("global shorthands -n / -o missing")
	}
}

func TestBadGlobalFlags(t *testing.T) {
	if _, err := run(t, "-o", "yaml", "version"); err == nil || !strings.Contains(err.Error(), "--output") {
		t.Errorf("-o yaml: err %v, want an --output error", err)
	}
	if _, err := run(t, "--log-level", "loud", "version"); err == nil || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("--log-level loud: err %v", err)
	}
	if _, err := run(t, "--no-such-flag"); err == nil {
		t.Error("unknown flag accepted")
	}
}

func TestVersionJSON(t *testing.T) {
	out, err := run(t, "version", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"version"`, `"revision"`, `"goversion"`} {
		if !strings.Contains(out, k) {
			t.Errorf("version -o json lacks %s: %s", k, out)
		}
	}
}
