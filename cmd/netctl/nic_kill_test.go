//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/nstest"
)

// netctlProc is this test binary run as netctl (TestMain) with args and its own state root.
func netctlProc(stateDir string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "NETCTL_STATE_DIR="+stateDir, "NETCTL_TEST_ARGS="+strings.Join(args, "\n"))
	return cmd
}

// leftovers lists what the state root holds besides folders: records, lock files,
// temporary files.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	return out
}

// A real `netctl nic add` killed (SIGKILL) at random points: the next command completes
// the NIC (nic add) or rolls the container back to exactly the state from before
// (nic del), and leaves no record, lock or temporary file behind.
func TestNicAddSIGKILL(t *testing.T) {
	l := cliLab(t)
	stateDir := t.TempDir()
	c1 := "netns:" + l.Container1.Name
	add := []string{"-n", l.Host.Name, "nic", "add", c1, "--bridge", "docker0", "--address", "172.17.0.99/24",
		"--gateway", "172.17.0.1", "--default-route", "--source-routing", "--arp-probe-wait", "0"}
	del := []string{"-n", l.Host.Name, "nic", "del", c1}
	list := []string{"-n", l.Host.Name, "-o", "json", "nic", "list", c1}
	wantRoutes := "default via 172.17.0.1 dev eth1 \n" +
		"172.17.0.0/24 dev eth1 proto kernel scope link src 172.17.0.99 \n" +
		"172.17.0.0/16 dev eth0 proto kernel scope link src 172.17.0.2 \n"
	mustRun := func(what string, args []string) string {
		t.Helper()
		out, err := netctlProc(stateDir, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
		return string(out)
	}
	before := cliState(t, l)

	// One clean add sets the range of the kill times.
	start := time.Now()
	mustRun("clean add", add)
	took := time.Since(start)
	mustRun("clean del", del)
	nstest.RequireSame(t, "clean add and del", before, cliState(t, l))

	seed := uint64(time.Now().UnixNano())
	t.Logf("a clean add takes %s; kill times drawn with seed %d", took, seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	const rounds = 30
	completed, interrupted := 0, 0
	for round := range rounds {
		// Most of a run is starting up and looking; the changes come in its second half.
		delay := took/4 + time.Duration(rng.Int64N(int64(took)))
		what := fmt.Sprintf("round %d, killed after %s", round, delay)
		cmd := netctlProc(stateDir, add...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if recs, _ := filepath.Glob(filepath.Join(stateDir, "nic", "*", "eth1.json")); len(recs) == 1 {
			var rec struct{ Complete bool }
			if b, err := os.ReadFile(recs[0]); err == nil && json.Unmarshal(b, &rec) == nil && !rec.Complete {
				interrupted++ // killed between the record and its completion
			}
		}

		if round%2 == 0 { // the next command is nic add: the NIC must come out whole
			out, err := netctlProc(stateDir, add...).CombinedOutput()
			if err != nil && !strings.Contains(string(out), "already has eth1 made by netctl") {
				t.Fatalf("%s: the next nic add: %v\n%s", what, err, out)
			}
			if err != nil {
				completed++ // the killed add had finished
			}
			var ifs []struct {
				Interface  string `json:"interface"`
				ByNetctl   bool   `json:"by_netctl"`
				Incomplete bool   `json:"incomplete"`
			}
			if err := json.Unmarshal([]byte(mustRun("nic list", list)), &ifs); err != nil {
				t.Fatal(err)
			}
			whole := false
			for _, i := range ifs {
				whole = whole || i.Interface == "eth1" && i.ByNetctl && !i.Incomplete
			}
			if !whole {
				t.Fatalf("%s: after the next nic add, eth1 is not whole: %+v", what, ifs)
			}
			routes, err := exec.Command("ip", "-n", l.Container1.Name, "route").Output()
			if err != nil || string(routes) != wantRoutes {
				t.Fatalf("%s: container1 routes %q (%v), want %q", what, routes, err, wantRoutes)
			}
		}
		mustRun(what+": nic del", del)
		nstest.RequireSame(t, what, before, cliState(t, l))
		if left := leftovers(t, stateDir); len(left) != 0 {
			t.Fatalf("%s: left in the state root: %v", what, left)
		}
	}
	t.Logf("%d kills left an incomplete NIC; %d of %d came after the add had finished", interrupted, completed, rounds/2)
	if interrupted == 0 {
		t.Errorf("no kill landed between the record and its completion: the test proved nothing")
	}
}
