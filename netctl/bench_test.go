//go:build linux

package netctl

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/lab"
	"github.com/netctl/netctl/internal/lab/labtest"
	"github.com/netctl/netctl/internal/nstest"
)

// seedScript is the seed's nine manual commands (brctl addif written as ip link set
// master: bridge-utils is not installed) and their undo, as an operator would run them.
const seedScript = `set -e
ip -n $H link add name veth-host type veth peer name veth-con
ip -n $H link set veth-host up
ip -n $H link set veth-host master docker0
ip -n $H link set veth-con netns $C
ip netns exec $C ip link set veth-con name eth1
ip netns exec $C ip addr add 172.17.0.99/24 dev eth1
ip netns exec $C ip link set eth1 up
ip netns exec $C ip route delete default
ip netns exec $C ip route add default via 172.17.0.1 dev eth1
# undo
ip netns exec $C ip route delete default
ip netns exec $C ip route add default via 172.17.0.1 dev eth0
ip -n $H link del veth-host
`

// BenchmarkNicAddDel times `netctl nic add` + `nic del` (the binary, as a user runs it)
// against the seed's script and its undo, alternating the two in every iteration so both
// see the same machine at the same time. It reports each one's time per add+del and the
// ratio netctl/script; "probe=off" skips the ARP probe's wait (--arp-probe-wait 0).
func BenchmarkNicAddDel(b *testing.B) {
	nstest.RequireRoot(b)
	bin := filepath.Join(b.TempDir(), "netctl")
	build := exec.Command("go", "build", "-o", bin, "../cmd/netctl")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as make build
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build netctl: %v\n%s", err, out)
	}
	l := labtest.New(b, lab.Options{})
	stateDir := b.TempDir()
	h, c := l.Host.Name, l.Container1.Name
	add := []string{"-n", h, "nic", "add", "netns:" + c, "--bridge", "docker0", "--address", "172.17.0.99/24",
		"--gateway", "172.17.0.1", "--default-route", "--host-name", "veth-host"}
	del := []string{"-n", h, "nic", "del", "netns:" + c}
	run := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "H="+h, "C="+c, "NETCTL_STATE_DIR="+stateDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	for _, probe := range []string{"on", "off"} {
		b.Run("probe="+probe, func(b *testing.B) {
			args := add
			if probe == "off" {
				args = append(append([]string{}, add...), "--arp-probe-wait", "0")
			}
			var ours, script time.Duration
			for b.Loop() {
				t0 := time.Now()
				run(bin, args...)
				run(bin, del...)
				t1 := time.Now()
				run("sh", "-c", seedScript)
				t2 := time.Now()
				ours += t1.Sub(t0)
				script += t2.Sub(t1)
			}
			n := float64(b.N)
			b.ReportMetric(float64(ours.Microseconds())/n, "µs-netctl/op")
			b.ReportMetric(float64(script.Microseconds())/n, "µs-script/op")
			b.ReportMetric(float64(ours)/float64(script), "netctl/script")
		})
	}
}
