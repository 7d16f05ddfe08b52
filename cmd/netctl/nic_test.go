//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/netctl/netctl/internal/lab"
	"github.com/netctl/netctl/internal/lab/labtest"
	"github.com/netctl/netctl/internal/nstest"
)

// TestMain lets a test run the CLI in a child process (e.g. with fewer privileges):
// NETCTL_TEST_ARGS holds the arguments, one per line.
func TestMain(m *testing.M) {
	if args := os.Getenv("NETCTL_TEST_ARGS"); args != "" {
		os.Args = append([]string{"netctl"}, strings.Split(args, "\n")...)
		main()
		os.Exit(0)
	}
	// NIC records of the tests go to a folder of their own, not the machine's /run/netctl.
	dir, err := os.MkdirTemp("", "netctl-cmd-test-")
	if err != nil {
		panic(err)
	}
	if err := os.Setenv("NETCTL_STATE_DIR", dir); err != nil {
		panic(err)
	}
	if err := os.Setenv("NETCTL_PERSIST_DIR", dir+"/persist"); err != nil { // nor /var/lib/netctl
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func cliLab(t *testing.T) *lab.Lab { return labtest.New(t, lab.Options{}) }

func cliState(t *testing.T, l *lab.Lab) string {
	return nstest.State(t, l.Host.Name) + nstest.State(t, l.Container1.Name) + nstest.State(t, l.Container2.Name)
}

// Every kind of bad input: one clear line, an error exit, and nothing changed.
func TestNicAddBadInput(t *testing.T) {
	l := cliLab(t)
	c1 := "netns:" + l.Container1.Name
	base := []string{"-n", l.Host.Name, "nic", "add"}
	ok := []string{"--bridge", "docker0", "--address", "172.17.0.99/24"}
	before := cliState(t, l)
	hostArgs := map[string][]string{
		"-n empty":             {"-n", "", "nic", "add"},
		"-n a regular file":    {"-n", "/etc/passwd", "nic", "add"},
		"-n a mount namespace": {"-n", "/proc/self/ns/mnt", "nic", "add"},
	}
	for name, args := range hostArgs {
		t.Run(name, func(t *testing.T) {
			_, err := run(t, append(args, append([]string{c1}, ok...)...)...)
			if err == nil || !strings.Contains(err.Error(), "netns") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %v, want one line about --netns", err)
			}
			nstest.RequireSame(t, name, before, cliState(t, l))
		})
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"name too long", []string{c1, "--name", "eth1-is-too-long", "--bridge", "docker0", "--address", "172.17.0.99/24"}, "at most 15"},
		{"name invalid", []string{c1, "--name", "e/1", "--bridge", "docker0", "--address", "172.17.0.99/24"}, "must not contain"},
		{"name taken in the container", []string{c1, "--name", "eth0", "--bridge", "docker0", "--address", "172.17.0.99/24"}, "already exists in the container"},
		{"host name taken", append([]string{c1, "--host-name", "veth-c1"}, ok...), "already exists in the host namespace"},
		{"prefix /33", []string{c1, "--bridge", "docker0", "--address", "172.17.0.99/33"}, "invalid --address"},
		{"not an IP", []string{c1, "--bridge", "docker0", "--address", "host-99/24"}, "invalid --address"},
		{"no prefix length", []string{c1, "--bridge", "docker0", "--address", "172.17.0.99"}, "invalid --address"},
		{"missing --address", []string{c1, "--bridge", "docker0"}, "address"},
		{"bridge missing", []string{c1, "--bridge", "br-missing", "--address", "172.17.0.99/24"}, "bridge br-missing not found"},
		{"not a bridge", []string{c1, "--bridge", "outside0", "--address", "172.17.0.99/24"}, "outside0 is not a bridge"},
		{"unknown netns", append([]string{"netns:" + l.Container1.Name + "-nope"}, ok...), "not found"},
		{"unknown pid", append([]string{"pid:999999999"}, ok...), "no such process"},
		{"unknown docker container", append([]string{"docker:netctl-test-no-such-container"}, ok...), "docker"},
		{"the host namespace itself", append([]string{"netns:" + l.Host.Name}, ok...), "host namespace itself"},
		{"address on the container", []string{c1, "--bridge", "docker0", "--address", "172.17.0.2/16"}, "already on eth0"},
		{"address of another host on the bridge", []string{c1, "--bridge", "docker0", "--address", "172.17.0.3/16"}, "already used by another host on docker0"},
		{"address of the host", []string{c1, "--bridge", "docker0", "--address", "172.17.0.1/16"}, "already used in the host namespace"},
		{"gateway outside every subnet", append([]string{c1, "--gateway", "10.9.9.1", "--default-route"}, ok...), "outside every subnet"},
		{"default route without gateway", append([]string{c1, "--default-route"}, ok...), "needs --gateway"},
		{"bad mtu", append([]string{c1, "--mtu", "20"}, ok...), "invalid --mtu"},
		{"multicast mac", append([]string{c1, "--mac", "01:00:5e:00:00:01"}, ok...), "invalid --mac"},
		// The inputs of issue 11, refused before any change.
		{"limited broadcast", append([]string{c1, "--address", "255.255.255.255/32"}, ok[:2]...), "limited broadcast"},
		{"this network", append([]string{c1, "--address", "0.1.2.3/8"}, ok[:2]...), "0.0.0.0/8"},
		{"reserved", append([]string{c1, "--address", "240.0.0.1/24"}, ok[:2]...), "240.0.0.0/4"},
		{"prefix /0", append([]string{c1, "--address", "172.17.0.99/0"}, ok[:2]...), "prefix length /0"},
		{"gateway the network address", append([]string{c1, "--gateway", "172.17.0.0"}, ok...), "network or broadcast address"},
		{"gateway the broadcast address", append([]string{c1, "--gateway", "172.17.0.255"}, ok...), "network or broadcast address"},
		{"all-zero mac", append([]string{c1, "--mac", "00:00:00:00:00:00"}, ok...), "all-zero"},
		{"arp probe wait too long", append([]string{c1, "--arp-probe-wait", "9999h"}, ok...), "invalid --arp-probe-wait"},
		{"arp probe wait negative", append([]string{c1, "--arp-probe-wait", "-1s"}, ok...), "invalid --arp-probe-wait"},
		{"name an option", append([]string{c1, "--name", "-eth1"}, ok...), "must not start with '-'"},
		{"name with ;", append([]string{c1, "--name", "e;reboot"}, ok...), "contain ';'"},
		{"host name an option", append([]string{c1, "--host-name", "-v"}, ok...), "must not start with '-'"},
		{"netns an option", append([]string{"netns:-x"}, ok...), "must not start with '-'"},
		{"IPv6 disabled in the container (fails mid-plan, rolled back)", []string{c1, "--bridge", "docker0", "--address", "172.17.0.99/24", "--address", "fd17::99/64"}, "IPv6 is disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(t, append(append([]string{}, base...), tc.args...)...)
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			nstest.RequireSame(t, tc.name, before, cliState(t, l))
		})
	}
}

// Without privileges: one line, exit non-zero, nothing changed.
func TestNicAddUnprivileged(t *testing.T) {
	l := cliLab(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("skipping: setpriv (util-linux) not installed")
	}
	before := cliState(t, l)
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", os.Args[0])
	cmd.Env = append(os.Environ(), "NETCTL_TEST_ARGS="+strings.Join([]string{"-n", l.Host.Name, "nic", "add",
		"netns:" + l.Container1.Name, "--bridge", "docker0", "--address", "172.17.0.99/24"}, "\n"))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("unprivileged nic add succeeded: %s", out)
	}
	msg := strings.TrimSpace(string(out))
	if !strings.Contains(msg, "permission denied") || strings.Count(msg, "\n") != 0 {
		t.Errorf("unprivileged nic add said %q, want one 'permission denied' line", msg)
	}
	nstest.RequireSame(t, "unprivileged add", before, cliState(t, l))
}

// The seed's own command through the CLI, with JSON output, and back.
func TestNicAddDelCLI(t *testing.T) {
	l := cliLab(t)
	before := cliState(t, l)
	args := []string{"-n", l.Host.Name, "nic", "add", "netns:" + l.Container1.Name, "--bridge", "docker0",
		"--address", "172.17.0.99/24", "--gateway", "172.17.0.1", "--default-route"}
	out, err := run(t, append(args, "--dry-run")...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"type veth peer name eth1", "addr add 172.17.0.99/24", "master docker0",
		"route del default via 172.17.0.1 dev eth0", "route add default via 172.17.0.1 dev eth1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	nstest.RequireSame(t, "dry run", before, cliState(t, l))
	if out, err = run(t, append(args, "-o", "json")...); err != nil || !strings.Contains(out, `"host_name"`) {
		t.Fatalf("add -o json: %v\n%s", err, out)
	}
	if out, err = run(t, "-n", l.Host.Name, "-o", "json", "nic", "list", "netns:"+l.Container1.Name); err != nil ||
		!strings.Contains(out, `"interface": "eth1"`) || !strings.Contains(out, `"by_netctl": true`) {
		t.Fatalf("nic list: %v\n%s", err, out)
	}
	if out, err = run(t, "-n", l.Host.Name, "nic", "del", "netns:"+l.Container1.Name); err != nil || !strings.Contains(out, "removed eth1") {
		t.Fatalf("nic del: %v\n%s", err, out)
	}
	nstest.RequireSame(t, "add then del", before, cliState(t, l))
	if out, err = run(t, "-n", l.Host.Name, "nic", "del", "netns:"+l.Container1.Name); err != nil || !strings.Contains(out, "nothing to remove") {
		t.Fatalf("second nic del: %v\n%s", err, out)
	}
}

// --dry-run quotes what a shell would read otherwise, so its output pastes safely.
func TestNicAddDryRunQuoted(t *testing.T) {
	l := cliLab(t)
	before := cliState(t, l)
	out, err := run(t, "-n", l.Host.Name, "nic", "add", "netns:"+l.Container1.Name, "--bridge", "docker0",
		"--address", "172.17.0.99/24", "--name", "$(id)", "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "peer name '$(id)' mtu") || strings.Contains(out, "peer name $(id)") {
		t.Errorf("dry run does not quote the name:\n%s", out)
	}
	nstest.RequireSame(t, "dry run", before, cliState(t, l))
}
