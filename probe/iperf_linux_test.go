//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/lab"
	"github.com/netctl/netctl/internal/lab/labtest"
	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
)

// BenchmarkAttachedThroughput measures what netctl's programs cost the traffic they
// count: iperf3 from the lab's container2 to container1 through docker0 in three states
// taken in turn, so that drift weighs on all alike: nothing attached ("detached");
// netctl's programs attached to the bridge's ports as `netctl attach -n <lab host>` does
// ("netctl"); and the empty program (bpf/bench.c, returns TCX_NEXT) on the same hooks
// with TCX ("empty"): the cost of having any program there, the floor no change to
// netctl's programs can go below. The rounds go detached, empty, netctl, detached,
// netctl, empty, … (the two attached states swap places every cycle). Each round runs a
// TCP bulk transfer, then UDP with 64-byte payloads sent as fast as the client can. It
// reports the medians (TCP Gbit/s at the receiver, UDP packets/s the server received),
// the ratios of the medians (netctl/detached, empty/detached, netctl/empty), and the
// median of each round's ratio to the nearest rounds of the other state before and after
// it, interpolated to its place (which cancels drift slower than a cycle), and logs a
// table of the rounds. On this
// 2-CPU VM single rounds of one state spread by up to ±25 % at times, so even 9 rounds
// of each leave a few per cent of doubt: compare runs.
//
// The client runs on CPU 0 and the server on CPU 1 (iperf3 -A): left to the scheduler
// they sometimes share one CPU, and a round then measures that. The UDP runs use 4 MiB
// socket buffers (iperf3 -w; less where net.core.rmem_max or wmem_max is lower):
// with the default 208 KiB, some 200 small datagrams, the server drops whenever its CPU
// is away for a millisecond, and what it receives measures its wake-ups more than the
// path. With them it receives what was sent, so packets/s follows the sender's CPU, which
// does the forwarding (both veths and the bridge) and runs the programs.
//
// Every attached round checks that the programs count the traffic (container1's
// receive counters, read from the pins as `netctl status` does, grow by what iperf3
// carried); every detached round checks that detach left no program, tc filter or pin.
//
// Environment (defaults in parentheses):
//
//	NETCTL_IPERF_SECONDS  length of one iperf3 run in whole seconds (2)
//	NETCTL_IPERF_ROUNDS   rounds of each state, detached and attached (9)
//	NETCTL_IPERF_CPUS     CLIENT,SERVER CPUs for iperf3 -A, or "none" (0,1)
//	NETCTL_IPERF_MODE     attach mode: auto, tcx or tc (auto)
//	NETCTL_IPERF_MAX_OTHER_CPU  other work tolerated during a round, in CPUs (0.1)
//	NETCTL_IPERF_PROGRAM  the attached states: netctl, empty, or both (both)
//	NETCTL_IPERF_BASELINE the program of the "empty" state (empty): another of
//	                      bpf/bench.c's, e.g. bench_totals_only, measures its code
//
// The empty program is attached unpinned and counts nothing; with NETCTL_IPERF_MODE=tc
// the netctl rounds use tc and the empty ones still TCX.
//
// The machine may be shared: other work competing for the CPUs skews a round far more
// than the programs do. Each round waits until other work used less than
// NETCTL_IPERF_MAX_OTHER_CPU over half a second, and a try during which other work used
// more is logged, not used, and run again (up to 4 tries a round). The medians are of
// the tries that saw no more than that (of every round's last try, for a state that has
// none). All the waiting takes 5 minutes at most in all, after which no round is tried
// again. The table shows every try with the CPU other work took, and the CPU time the
// hypervisor stole.
//
// Run it with -benchtime 1x, and -v for the whole table (go test keeps only the first
// 10 lines of a benchmark's log otherwise); make bench does:
//
//	go test -run '^$' -bench AttachedThroughput -benchtime 1x -count 1 -v ./probe/
func BenchmarkAttachedThroughput(b *testing.B) {
	cfg := iperfConfigFromEnv(b)
	bench := newIperfBench(b, cfg)
	l := bench.lab
	if slices.Contains(cfg.states, iperfBaseline) && !bench.haveTCX(b) {
		cfg.states = slices.DeleteFunc(cfg.states, func(s iperfState) bool { return s == iperfBaseline })
		if len(cfg.states) == 0 {
			b.Skipf("skipping: %s is attached with TCX, and this kernel has none (Linux 6.6+)", cfg.baseline)
		}
		b.Logf("this kernel has no TCX (Linux 6.6+): the rounds of %s are left out", cfg.baseline)
		bench.cfg.states = cfg.states
	}

	b.Logf("iperf3 %s → %s through %s, %d s per run, %d rounds of each state, CPUs %s, UDP socket buffers %s; attached: %s (netctl's in attach mode %s); load average %s",
		l.Container2.Addr4, l.Container1.Addr4, l.Spec.Bridge.Name, cfg.seconds, cfg.rounds, cfg.cpus(), cfg.udpBuffers(), cfg.labels(), cfg.mode, loadAverage())
	var rounds []iperfRound
	for b.Loop() {
		rounds = bench.run(b)
	}
	b.Logf("load average after the rounds: %s", loadAverage())
	b.Log("\n" + iperfTable(rounds, cfg.label))

	var tcp, udp, udpSent [iperfStates][]float64
	contended := 0
	for _, st := range append([]iperfState{iperfDetached}, cfg.states...) {
		use := func(r iperfRound) bool { return r.state == st && r.clean }
		if !slices.ContainsFunc(rounds, use) {
			b.Logf("no %s round ran without other work: its medians are of contended rounds", cfg.label(st))
			use = func(r iperfRound) bool { return r.state == st && r.final }
		}
		for _, r := range rounds {
			if use(r) {
				tcp[st] = append(tcp[st], r.tcpGbps)
				udp[st] = append(udp[st], r.udpRxPPS)
				udpSent[st] = append(udpSent[st], r.udpTxPPS)
			}
			if r.state == st && !r.clean {
				contended++
			}
		}
		b.Logf("%s: %d rounds", cfg.label(st), len(tcp[st]))
	}
	b.ReportMetric(0, "ns/op") // one op is the whole series of rounds: meaningless
	b.ReportMetric(float64(contended), "contended-tries")
	for _, st := range append([]iperfState{iperfDetached}, cfg.states...) {
		b.ReportMetric(median(tcp[st]), "tcp-"+cfg.label(st)+"-Gbit/s")
		b.ReportMetric(median(udp[st]), "udp64-"+cfg.label(st)+"-rx-pkt/s")
	}
	// The ratios of the medians, and from neighbours: each round of one state against
	// the mean of the nearest rounds of the other before and after it.
	for _, pair := range cfg.ratioPairs() {
		x, y := pair[0], pair[1]
		name := cfg.label(x) + "/" + cfg.label(y)
		b.ReportMetric(median(tcp[x])/median(tcp[y]), "tcp-"+name)
		b.ReportMetric(median(udp[x])/median(udp[y]), "udp64-"+name)
		b.ReportMetric(median(udpSent[x])/median(udpSent[y]), "udp64-sent-"+name)
		tcpN := neighbourRatios(rounds, x, y, func(r iperfRound) float64 { return r.tcpGbps })
		udpN := neighbourRatios(rounds, x, y, func(r iperfRound) float64 { return r.udpRxPPS })
		b.Logf("%s by neighbours: TCP %s; UDP 64 B %s", name, fmtRatios(tcpN), fmtRatios(udpN))
		b.ReportMetric(median(tcpN), "tcp-"+name+"-neighbours")
		b.ReportMetric(median(udpN), "udp64-"+name+"-neighbours")
	}
}

// neighbourRatios returns, for each round of state x whose final try was clean, its
// value over what the nearest such rounds of state y before and after it in the
// alternation give at its place, interpolated linearly by round number (so a drift
// that is linear over those rounds cancels exactly); the one value where the other
// side is missing.
func neighbourRatios(rounds []iperfRound, x, y iperfState, value func(iperfRound) float64) []float64 {
	var final []iperfRound // the tries that count, in round order
	for _, r := range rounds {
		if r.final && r.clean {
			final = append(final, r)
		}
	}
	var out []float64
	for i, r := range final {
		if r.state != x {
			continue
		}
		var before, after *iperfRound
		for j := i - 1; j >= 0 && before == nil; j-- {
			if final[j].state == y {
				before = &final[j]
			}
		}
		for j := i + 1; j < len(final) && after == nil; j++ {
			if final[j].state == y {
				after = &final[j]
			}
		}
		var base float64
		switch {
		case before != nil && after != nil:
			w := float64(r.round-before.round) / float64(after.round-before.round)
			base = value(*before) + w*(value(*after)-value(*before))
		case before != nil:
			base = value(*before)
		case after != nil:
			base = value(*after)
		}
		if base > 0 {
			out = append(out, value(r)/base)
		}
	}
	return out
}

// fmtRatios formats ratios for the log, two decimals each, and their median.
func fmtRatios(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(parts, " ") + " (median " + strconv.FormatFloat(median(v), 'f', 3, 64) + ")"
}

// newIperfBench brings up a lab with an iperf3 server in container1 for the benchmarks
// that send through its bridge, with the empty program loaded, and undoes it all when
// the benchmark ends. It skips unless root and
// iperf3 is installed.
func newIperfBench(b *testing.B, cfg iperfConfig) *iperfBench {
	b.Helper()
	nstest.RequireRoot(b)
	if _, err := exec.LookPath("iperf3"); err != nil {
		b.Skip("skipping: iperf3 is not installed (make setup installs it)")
	}
	l := labtest.New(b, lab.Options{})
	opts := Options{BPFDir: nstest.BPFDir(b), StateDir: b.TempDir(), Mode: cfg.mode}
	b.Cleanup(func() {
		if _, err := Detach(l.Host.NS, opts); err != nil {
			b.Errorf("detach at cleanup: %v", err)
		}
	})
	bo := mustLoadBench(b)
	ib := &iperfBench{cfg: cfg, lab: l, opts: opts, quietLeft: 5 * time.Minute, emptyProg: bo.Empty, baselineProg: benchProgram(b, bo, cfg.baseline)}
	b.Cleanup(func() {
		for _, k := range ib.tcxLinks {
			k.Close()
		}
	})
	ib.serverPID = startIperfServer(b, l.Container1, cfg.serverCPU)
	return ib
}

// iperfPort is iperf3's default port, in container1's own namespace.
const iperfPort = 5201

// iperfState is what a round has on the bridge's ports.
type iperfState int

const (
	iperfDetached iperfState = iota // nothing
	iperfBaseline                   // the empty program (or cfg.baseline), TCX
	iperfNetctl                     // netctl's programs, as netctl attach does
	iperfStates                     // how many there are
)

func (s iperfState) String() string {
	return [...]string{"detached", "baseline", "netctl"}[s]
}

// label names state st in the output: the baseline by its program's name.
func (c iperfConfig) label(st iperfState) string {
	if st == iperfBaseline && c.baseline != "" {
		return c.baseline
	}
	return st.String()
}

// labels names the attached states.
func (c iperfConfig) labels() []string {
	var out []string
	for _, st := range c.states {
		out = append(out, c.label(st))
	}
	return out
}

type iperfConfig struct {
	seconds, rounds      int
	clientCPU, serverCPU string // "" for unpinned
	mode                 Mode
	states               []iperfState // the attached states, in the order of a cycle's first
	baseline             string       // the baseline's program in bpf/bench.c: empty, or another
	maxOther             float64      // CPUs of other work a round may see (cpuSample)
	udpBuffer            int          // UDP socket buffers (iperf3 -w), bytes; 0: the kernel's default
}

// ratioPairs are the ratios reported: each attached state over detached, and netctl
// over empty when both run.
func (c iperfConfig) ratioPairs() [][2]iperfState {
	var out [][2]iperfState
	for _, st := range c.states {
		out = append(out, [2]iperfState{st, iperfDetached})
	}
	if len(c.states) == 2 {
		out = append(out, [2]iperfState{iperfNetctl, iperfBaseline})
	}
	return out
}

func (c iperfConfig) cpus() string {
	if c.clientCPU == "" {
		return "unpinned"
	}
	return "client " + c.clientCPU + ", server " + c.serverCPU
}

func (c iperfConfig) udpBuffers() string {
	if c.udpBuffer == 0 {
		return "default"
	}
	return strconv.Itoa(c.udpBuffer) + " B"
}

func iperfConfigFromEnv(b *testing.B) iperfConfig {
	b.Helper()
	c := iperfConfig{seconds: 2, rounds: 9, clientCPU: "0", serverCPU: "1", mode: ModeAuto, maxOther: 0.1}
	positive := func(name string, into *int) {
		if s := os.Getenv(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				b.Fatalf("%s=%q: want a whole number ≥ 1", name, s)
			}
			*into = n
		}
	}
	positive("NETCTL_IPERF_SECONDS", &c.seconds)
	positive("NETCTL_IPERF_ROUNDS", &c.rounds)
	if s := os.Getenv("NETCTL_IPERF_CPUS"); s == "none" {
		c.clientCPU, c.serverCPU = "", ""
	} else if s != "" {
		cl, sv, ok := strings.Cut(s, ",")
		_, e1 := strconv.ParseUint(cl, 10, 16)
		_, e2 := strconv.ParseUint(sv, 10, 16)
		if !ok || e1 != nil || e2 != nil {
			b.Fatalf("NETCTL_IPERF_CPUS=%q: want CLIENT,SERVER (CPU numbers) or none", s)
		}
		c.clientCPU, c.serverCPU = cl, sv
	}
	if s := os.Getenv("NETCTL_IPERF_MODE"); s != "" {
		m, err := ParseMode(s)
		if err != nil {
			b.Fatalf("NETCTL_IPERF_MODE: %v", err)
		}
		c.mode = m
	}
	if s := os.Getenv("NETCTL_IPERF_MAX_OTHER_CPU"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 {
			b.Fatalf("NETCTL_IPERF_MAX_OTHER_CPU=%q: want CPUs, a number ≥ 0 (2 keeps every round)", s)
		}
		c.maxOther = f
	}
	c.baseline = "empty"
	if s := os.Getenv("NETCTL_IPERF_BASELINE"); s != "" {
		c.baseline = s
	}
	switch s := os.Getenv("NETCTL_IPERF_PROGRAM"); s {
	case "", "both":
		c.states = []iperfState{iperfBaseline, iperfNetctl}
	case "netctl":
		c.states = []iperfState{iperfNetctl}
	case "empty", "baseline":
		c.states = []iperfState{iperfBaseline}
	default:
		b.Fatalf("NETCTL_IPERF_PROGRAM=%q: want netctl, empty (the baseline) or both", s)
	}
	c.udpBuffer = udpBufferSize()
	return c
}

// udpBufferSize is the socket buffer size for the UDP runs: 4 MiB, or less where the
// kernel allows less (net.core.rmem_max and wmem_max); 0 when it allows no more than
// its default (212992 bytes).
func udpBufferSize() int {
	size := 4 << 20
	for _, f := range []string{"/proc/sys/net/core/rmem_max", "/proc/sys/net/core/wmem_max"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return 0
		}
		size = min(size, n)
	}
	if size <= 212992 {
		return 0
	}
	return size
}

type iperfBench struct {
	cfg       iperfConfig
	lab       *lab.Lab
	opts      Options
	serverPID int
	clientCPU time.Duration // CPU time of the iperf3 clients so far
	// quietLeft is how much longer the benchmark may wait for other work to calm down
	// (waitQuiet) and run rounds again: it bounds the whole run on a busy machine.
	quietLeft    time.Duration
	emptyProg    *ebpf.Program
	baselineProg *ebpf.Program // cfg.baseline's
	tcxLinks     []link.Link   // attachTCX's, while attached
}

// iperfRound is what one round measured.
type iperfRound struct {
	round     int           // 1, 2, …: the place in the alternation
	try       int           // 1, 2, …: a round that saw other work is run again
	clean     bool          // other work used at most cfg.maxOther meanwhile
	final     bool          // the round's last try
	waited    time.Duration // for other work to calm down before the try
	state     iperfState
	tcpGbps   float64 // at the receiver
	tcpRetr   int
	udpRxPPS  float64 // datagrams the server received, per second
	udpTxPPS  float64 // datagrams the client sent, per second
	udpLost   float64 // fraction of the sent datagrams the server did not receive
	tcpCount  float64 // netctl: container1's counted receive bytes / bytes iperf3 received
	udpCount  float64 // netctl: container1's counted receive packets / datagrams received
	attachDur time.Duration
	others    float64 // CPU others than the benchmark used meanwhile, in CPUs (cpuSample)
	steal     float64 // CPU the hypervisor took meanwhile, in CPUs
}

func (r iperfRound) verdict() string {
	switch {
	case r.clean:
		return "used"
	case !r.final:
		return "other work: run again"
	default:
		return "other work: not used"
	}
}

// iperfTries is how many times a round that saw other work is run at most.
const iperfTries = 4

// run does one warm-up round (detached, 1 s each, not reported), then the rounds in
// turn, and returns every try of them.
func (ib *iperfBench) run(b *testing.B) []iperfRound {
	ib.checkDetached(b)
	ib.waitQuiet(b)
	for _, udp := range []bool{false, true} {
		if _, err := ib.client(b, 1, udp); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
	var out []iperfRound
	order := ib.cfg.order()
	prev := iperfDetached
	for i, st := range order {
		var attachDur time.Duration
		ib.detach(b, prev)
		if st != iperfDetached {
			start := time.Now()
			ib.attach(b, st)
			attachDur = time.Since(start)
		}
		prev = st
		for try := 1; ; try++ {
			r := iperfRound{round: i + 1, try: try, state: st, attachDur: attachDur}
			r.waited = ib.waitQuiet(b)
			m0 := ib.cpuSample()
			r.tcpGbps, r.tcpRetr, r.tcpCount = ib.measureTCP(b, st)
			r.udpRxPPS, r.udpTxPPS, r.udpLost, r.udpCount = ib.measureUDP(b, st)
			m1 := ib.cpuSample()
			r.others, r.steal = m1.othersSince(m0), m1.stealSince(m0)
			r.clean = r.others <= ib.cfg.maxOther
			r.final = r.clean || try == iperfTries || ib.quietLeft <= 0
			out = append(out, r)
			verdict := r.verdict()
			b.Logf("round %d %s (try %d): TCP %.2f Gbit/s, UDP64 %.0f pkt/s received (%.0f sent); other CPU %.2f: %s",
				r.round, ib.cfg.label(r.state), r.try, r.tcpGbps, r.udpRxPPS, r.udpTxPPS, r.others, verdict)
			if r.final {
				break
			}
		}
	}
	ib.detach(b, prev)
	return out
}

// order is the states of the rounds: cfg.rounds cycles of detached then the attached
// states, whose order swaps every cycle.
func (c iperfConfig) order() []iperfState {
	var out []iperfState
	for i := range c.rounds {
		out = append(out, iperfDetached)
		att := slices.Clone(c.states)
		if i%2 == 1 {
			slices.Reverse(att)
		}
		out = append(out, att...)
	}
	return out
}

// waitQuiet waits until other work used at most cfg.maxOther CPUs over half a second,
// for as long as quietLeft allows, and returns how long it waited. A round that saw
// other work is run again (by run) while some of quietLeft remains.
func (ib *iperfBench) waitQuiet(b *testing.B) time.Duration {
	b.Helper()
	start := time.Now()
	for ib.quietLeft > 0 {
		s0 := ib.cpuSample()
		time.Sleep(500 * time.Millisecond)
		ib.quietLeft -= time.Since(s0.at)
		if ib.cpuSample().othersSince(s0) <= ib.cfg.maxOther {
			break
		}
		if ib.quietLeft <= 0 {
			b.Logf("other work kept using more than %.2f CPUs: measuring anyway, and trying no round again", ib.cfg.maxOther)
		}
	}
	return time.Since(start)
}

// countedRun runs one iperf3 client, UDP or TCP, for cfg.seconds, and reads container1's
// counters before and after it (zero unless netctl's programs are attached).
func (ib *iperfBench) countedRun(b *testing.B, st iperfState, udp bool) (res iperfResult, before, after InterfaceCounters) {
	b.Helper()
	before = ib.counted(b, st)
	res, err := ib.client(b, ib.cfg.seconds, udp)
	if err != nil {
		b.Fatal(err)
	}
	return res, before, ib.counted(b, st)
}

func (ib *iperfBench) measureTCP(b *testing.B, st iperfState) (gbps float64, retr int, counted float64) {
	b.Helper()
	res, before, after := ib.countedRun(b, st, false)
	recv := res.End.SumReceived
	if recv.Bytes == 0 || recv.Seconds <= 0 {
		b.Fatalf("iperf3 TCP: nothing received: %+v", res.End)
	}
	gbps = recv.BitsPerSecond / 1e9
	if st == iperfNetctl {
		// Every byte the server read crossed veth-c1, with its headers (a few %), and so
		// did what was still in flight at the end and retransmissions.
		got := float64(after.RxBytes - before.RxBytes)
		counted = got / float64(recv.Bytes)
		if counted < 0.99 || got > 1.10*float64(res.End.SumSent.Bytes)+1<<20 {
			b.Fatalf("attached, container1 eth0 counted %.0f received bytes for iperf3's %d received, %d sent: the programs do not count the traffic",
				got, recv.Bytes, res.End.SumSent.Bytes)
		}
	}
	return gbps, res.End.SumSent.Retransmits, counted
}

func (ib *iperfBench) measureUDP(b *testing.B, st iperfState) (rxPPS, txPPS, lost, counted float64) {
	b.Helper()
	res, before, after := ib.countedRun(b, st, true)
	sent, recv := res.End.SumSent, res.End.SumReceived
	got := recv.Packets - recv.LostPackets // the server's highest sequence number, less the gaps
	if got <= 0 || recv.Seconds <= 0 || sent.Packets <= 0 || sent.Seconds <= 0 {
		b.Fatalf("iperf3 UDP: nothing received: %+v", res.End)
	}
	rxPPS, txPPS = float64(got)/recv.Seconds, float64(sent.Packets)/sent.Seconds
	lost = 1 - float64(got)/float64(sent.Packets)
	if st == iperfNetctl {
		// Datagrams dropped at container1's socket were counted on veth-c1 before; a
		// few dozen packets of iperf3's control connection come on top.
		n := float64(after.RxPackets - before.RxPackets)
		counted = n / float64(got)
		if counted < 0.99 || n > 1.01*float64(sent.Packets)+1000 {
			b.Fatalf("attached, container1 eth0 counted %.0f received packets for iperf3's %d received, %d sent: the programs do not count the traffic",
				n, got, sent.Packets)
		}
	}
	return rxPPS, txPPS, lost, counted
}

// counted reads container1's eth0 counters from the pins, as `netctl status` does;
// zero unless netctl's programs are attached.
func (ib *iperfBench) counted(b *testing.B, st iperfState) InterfaceCounters {
	b.Helper()
	if st != iperfNetctl {
		return InterfaceCounters{}
	}
	snap, err := ReadPinned(context.Background(), ib.lab.Host.NS, ib.opts)
	if err != nil {
		b.Fatalf("read the pinned counters: %v", err)
	}
	c, ok := ours(snap)[[2]string{ib.lab.Container1.Name, lab.ContainerIf}]
	if !ok {
		b.Fatalf("the pinned counters have no %s %s: %+v", ib.lab.Container1.Name, lab.ContainerIf, snap.Interfaces)
	}
	return c
}

// attach puts state st on the bridge's ports. For netctl it does what `netctl attach -n
// <lab host> --bridge docker0` does: open the datapath (nothing pinned before), attach
// every port of the bridge, close (the CLI exits; the pins keep the programs attached).
// It checks both ports carry netctl's two programs.
func (ib *iperfBench) attach(b *testing.B, st iperfState) {
	b.Helper()
	l := ib.lab
	if st == iperfBaseline {
		ib.attachTCX(b, ib.baselineProg)
		return
	}
	if has, err := HasPins(l.Host.NS, ib.opts); err != nil || has {
		b.Fatalf("before attach: HasPins %v, %v; want nothing pinned", has, err)
	}
	dp, err := Open(l.Host.NS, ib.opts)
	if err != nil {
		b.Fatal(err)
	}
	at, err := dp.AttachBridge(context.Background(), l.Spec.Bridge.Name)
	dp.Close()
	if err != nil {
		b.Fatalf("attach %s: %v", l.Spec.Bridge.Name, err)
	}
	var names []string
	for _, a := range at {
		if a.Adopted {
			b.Fatalf("attach adopted %s: something was left attached", a.HostInterface)
		}
		names = append(names, a.HostInterface)
	}
	slices.Sort(names)
	if want := []string{l.Container1.HostVeth, l.Container2.HostVeth}; !slices.Equal(names, want) {
		b.Fatalf("attached to %v, want %v", names, want)
	}
	if n := progsOn(b, l.Host.Name); n != 4 {
		b.Fatalf("%d of netctl's programs on the lab's ports after attach, want 4 (2 ports × 2)", n)
	}
}

// detach takes state st off the bridge's ports (for netctl as `netctl detach -n <lab
// host>` does), then checks that it left nothing.
func (ib *iperfBench) detach(b *testing.B, st iperfState) {
	b.Helper()
	switch st {
	case iperfDetached:
		return
	case iperfBaseline:
		ib.detachTCX(b)
		return
	}
	rep, err := Detach(ib.lab.Host.NS, ib.opts)
	if err != nil {
		b.Fatalf("detach: %v", err)
	}
	if rep.Links+rep.Filters == 0 {
		b.Fatalf("detach removed nothing (%+v): was anything attached?", rep)
	}
	ib.checkDetached(b)
}

// checkDetached fails unless the lab's host namespace has no netctl program (tc filter
// or TCX link), no program at all on the bridge's ports (TCX, or a tc filter), and no
// pin of netctl's.
func (ib *iperfBench) checkDetached(b *testing.B) {
	b.Helper()
	l := ib.lab
	if n := progsOn(b, l.Host.Name); n != 0 {
		b.Fatalf("%d of netctl's programs left on the lab's ports after detach", n)
	}
	if n := ib.tcxPrograms(b); n != 0 {
		b.Fatalf("%d TCX programs left on the lab's ports after detach", n)
	}
	if has, err := HasPins(l.Host.NS, ib.opts); err != nil || has {
		b.Fatalf("after detach: HasPins %v, %v; want nothing pinned", has, err)
	}
	for _, dev := range []string{l.Container1.HostVeth, l.Container2.HostVeth} {
		for _, dir := range []string{"ingress", "egress"} {
			out, err := exec.Command("ip", "netns", "exec", l.Host.Name, "tc", "filter", "show", "dev", dev, dir).CombinedOutput()
			if err != nil || len(bytes.TrimSpace(out)) != 0 {
				b.Fatalf("after detach, tc filter show dev %s %s: %v\n%s", dev, dir, err, out)
			}
		}
	}
}

// attachTCX attaches prog (the empty program, or another of the benchmarks') where
// netctl's go: first on the ingress of both ports, last on their egress, with TCX,
// unpinned.
func (ib *iperfBench) attachTCX(b *testing.B, prog *ebpf.Program) {
	b.Helper()
	l := ib.lab
	for _, name := range []string{l.Container1.HostVeth, l.Container2.HostVeth} {
		port, err := l.Host.Netlink.LinkByName(name)
		if err != nil {
			b.Fatal(err)
		}
		for _, dir := range []Direction{Ingress, Egress} {
			opts, err := tcxOptions(port.Attrs().Index, dir, prog, prog)
			if err != nil {
				b.Fatal(err)
			}
			err = nsutil.Do(l.Host.NS, func() error {
				k, err := link.AttachTCX(opts)
				if err == nil {
					ib.tcxLinks = append(ib.tcxLinks, k)
				}
				return err
			})
			if err != nil {
				skipIfNoTCX(b, err)
				b.Fatalf("attach %v to %s %v: %v", prog, name, dir, err)
			}
		}
	}
	if n := ib.tcxPrograms(b); n != 4 {
		b.Fatalf("%d TCX programs on the lab's ports after attaching %v, want 4 (2 ports × 2)", n, prog)
	}
}

// haveTCX reports whether the kernel attaches TCX programs (Linux 6.6+): it attaches
// the empty program to one port's ingress and takes it off again.
func (ib *iperfBench) haveTCX(b *testing.B) bool {
	b.Helper()
	l := ib.lab
	port, err := l.Host.Netlink.LinkByName(l.Container1.HostVeth)
	if err != nil {
		b.Fatal(err)
	}
	opts, err := tcxOptions(port.Attrs().Index, Ingress, ib.emptyProg, ib.emptyProg)
	if err != nil {
		b.Fatal(err)
	}
	err = nsutil.Do(l.Host.NS, func() error {
		k, err := link.AttachTCX(opts)
		if err != nil {
			return err
		}
		return k.Close()
	})
	if errors.Is(err, ebpf.ErrNotSupported) {
		return false
	}
	if err != nil {
		b.Fatalf("attach the empty program to %s with TCX: %v", l.Container1.HostVeth, err)
	}
	return true
}

// detachTCX closes what attachTCX attached (unpinned: closing detaches), then checks
// that nothing is left.
func (ib *iperfBench) detachTCX(b *testing.B) {
	b.Helper()
	for _, k := range ib.tcxLinks {
		if err := k.Close(); err != nil {
			b.Fatalf("detach: %v", err)
		}
	}
	ib.tcxLinks = nil
	ib.checkDetached(b)
}

// tcxPrograms counts the TCX programs, anyone's, on the lab's two ports.
func (ib *iperfBench) tcxPrograms(b *testing.B) int {
	b.Helper()
	ids, err := ib.tcxProgramIDs()
	if errors.Is(err, unix.EINVAL) || errors.Is(err, ebpf.ErrNotSupported) {
		return 0 // no TCX on this kernel (before 6.6)
	}
	if err != nil {
		b.Fatalf("query the TCX programs on the lab's ports: %v", err)
	}
	return len(ids)
}

// tcxProgramIDs lists the TCX programs on the lab's two ports, both hooks.
func (ib *iperfBench) tcxProgramIDs() ([]ebpf.ProgramID, error) {
	l := ib.lab
	var ids []ebpf.ProgramID
	err := nsutil.Do(l.Host.NS, func() error {
		for _, name := range []string{l.Container1.HostVeth, l.Container2.HostVeth} {
			port, err := l.Host.Netlink.LinkByName(name)
			if err != nil {
				return err
			}
			for _, at := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
				res, err := link.QueryPrograms(link.QueryOptions{Target: port.Attrs().Index, Attach: at})
				if err != nil {
					return err
				}
				for _, p := range res.Programs {
					ids = append(ids, p.ID)
				}
			}
		}
		return nil
	})
	return ids, err
}

// iperfResult is the part of iperf3's -J output the benchmark reads.
type iperfResult struct {
	Error string `json:"error"`
	End   struct {
		SumSent     iperfSum `json:"sum_sent"`
		SumReceived iperfSum `json:"sum_received"` // the server's side
	} `json:"end"`
}

type iperfSum struct {
	Seconds       float64 `json:"seconds"`
	Bytes         uint64  `json:"bytes"`
	BitsPerSecond float64 `json:"bits_per_second"`
	Retransmits   int     `json:"retransmits"`  // TCP, sender
	Packets       int64   `json:"packets"`      // UDP
	LostPackets   int64   `json:"lost_packets"` // UDP, receiver
}

// client runs one iperf3 client in container2 against the server in container1, for
// seconds, TCP bulk or UDP with 64-byte payloads at no rate limit.
func (ib *iperfBench) client(b *testing.B, seconds int, udp bool) (iperfResult, error) {
	b.Helper()
	l := ib.lab
	args := []string{"netns", "exec", l.Container2.Name, "iperf3", "-c", l.Container1.Addr4.String(), "-p", strconv.Itoa(iperfPort),
		"-t", strconv.Itoa(seconds), "-J", "--connect-timeout", "3000"}
	if udp {
		args = append(args, "-u", "-l", "64", "-b", "0")
		if ib.cfg.udpBuffer > 0 {
			args = append(args, "-w", strconv.Itoa(ib.cfg.udpBuffer))
		}
	}
	if ib.cfg.clientCPU != "" {
		args = append(args, "-A", ib.cfg.clientCPU+","+ib.cfg.serverCPU)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second+20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", args...) // killed when ctx ends
	cmd.WaitDelay = 2 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if cmd.ProcessState != nil {
		ib.clientCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	var res iperfResult
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		return res, fmt.Errorf("iperf3 %s: %w; output %q, %s", strings.Join(args[3:], " "), errors.Join(err, jerr), out, stderr.Bytes())
	}
	if res.Error != "" {
		err = errors.Join(err, errors.New(res.Error))
	}
	if err != nil {
		return res, fmt.Errorf("iperf3 %s: %w %s", strings.Join(args[3:], " "), err, stderr.Bytes())
	}
	return res, nil
}

// startIperfServer runs iperf3 -s in ns (pinned to cpu unless ""), waits until it
// listens, and kills it (by its PID) when the benchmark ends.
func startIperfServer(b *testing.B, ns *lab.Namespace, cpu string) (pid int) {
	b.Helper()
	args := []string{"netns", "exec", ns.Name, "iperf3", "-s", "-B", ns.Addr4.String(), "-p", strconv.Itoa(iperfPort)}
	if cpu != "" {
		args = append(args, "-A", cpu)
	}
	cmd := exec.Command("ip", args...) // ip execs iperf3: the PID is iperf3's
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatalf("start iperf3 server: %v", err)
	}
	var waitErr error
	done := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			b.Errorf("iperf3 server (pid %d) did not exit within 5 s of SIGKILL", cmd.Process.Pid)
		}
	})
	// It listens once its namespace's TCP table (seen through its own /proc) has the
	// port in state LISTEN (0A).
	tcpTable := fmt.Sprintf("/proc/%d/net/tcp", cmd.Process.Pid)
	port := fmt.Sprintf(":%04X", iperfPort)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if t, err := os.ReadFile(tcpTable); err == nil && listens(string(t), port) {
			return cmd.Process.Pid
		}
		select {
		case <-done:
			b.Fatalf("iperf3 server exited: %v\n%s", waitErr, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("iperf3 server does not listen on %s:%d after 5 s", ns.Addr4, iperfPort)
		}
	}
}

// listens reports whether a /proc/net/tcp table has a socket listening on port
// (":XXXX", hex).
func listens(table, port string) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1], port) && f[3] == "0A" {
			return true
		}
	}
	return false
}

// cpuSample is a reading of how busy the CPUs were and how much of it was the
// benchmark's: this process, the iperf3 server and clients, and the kernel's threads
// (ksoftirqd forwards traffic too). The rest is other work on the machine, which
// competes with iperf3 for the 2 CPUs: a round that had much of it is suspect.
type cpuSample struct {
	at                time.Time
	busy, ours, steal time.Duration
}

func (ib *iperfBench) cpuSample() cpuSample {
	s := cpuSample{at: time.Now(), ours: ib.clientCPU}
	s.busy, s.steal = procStatBusy()
	for _, pid := range []int{os.Getpid(), ib.serverPID} {
		s.ours += pidCPU(strconv.Itoa(pid), false)
	}
	if ents, err := os.ReadDir("/proc"); err == nil {
		for _, e := range ents {
			if e.Name()[0] >= '1' && e.Name()[0] <= '9' {
				s.ours += pidCPU(e.Name(), true)
			}
		}
	}
	return s
}

// othersSince is the CPU others used from s0 to s, in CPUs (1: one CPU all the time).
func (s cpuSample) othersSince(s0 cpuSample) float64 {
	d := s.at.Sub(s0.at)
	if d <= 0 {
		return 0
	}
	return max(0, float64((s.busy-s0.busy)-(s.ours-s0.ours))/float64(d))
}

// stealSince is the time the hypervisor gave the CPUs to others from s0 to s, in CPUs.
func (s cpuSample) stealSince(s0 cpuSample) float64 {
	d := s.at.Sub(s0.at)
	if d <= 0 {
		return 0
	}
	return float64(s.steal-s0.steal) / float64(d)
}

// clockTick is USER_HZ, the unit of /proc's CPU times (100 on every Linux architecture
// the benchmark builds for).
const clockTick = time.Second / 100

// procStatBusy is the time all CPUs spent busy (user, nice, system, irq, softirq), and
// the time stolen from them (by the hypervisor, for other guests).
func procStatBusy() (busy, steal time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	field := func(i int) time.Duration {
		if i >= len(f) {
			return 0
		}
		n, _ := strconv.ParseInt(f[i], 10, 64)
		return time.Duration(n) * clockTick
	}
	return field(1) + field(2) + field(3) + field(6) + field(7), field(8)
}

// pidCPU is the user and system time of process pid; with kthreadsOnly, 0 unless it
// is a kernel thread.
func pidCPU(pid string, kthreadsOnly bool) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:])) // from field 3 (state) on
	if len(f) < 13 {
		return 0
	}
	const pfKthread = 0x00200000
	if flags, _ := strconv.ParseUint(f[6], 10, 64); kthreadsOnly && flags&pfKthread == 0 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * clockTick
}

// median returns the middle value of v (the mean of the two middle ones for an even
// length), leaving v as it is.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// iperfTable formats the rounds, one line per try, naming states with label.
func iperfTable(rounds []iperfRound, label func(iperfState) string) string {
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tstate\tTCP Gbit/s\tretransmits\tcounted/iperf3 bytes\tUDP64 rx pkt/s\tUDP64 sent pkt/s\tlost\tcounted/iperf3 pkts\tattach\tother CPU\tsteal\twaited\tresult\t")
	for _, r := range rounds {
		tc, uc, at := "-", "-", "-"
		if r.state != iperfDetached {
			at = r.attachDur.Round(time.Millisecond).String()
		}
		if r.tcpCount > 0 { // checked: netctl's programs attached
			tc, uc = fmt.Sprintf("%.3f", r.tcpCount), fmt.Sprintf("%.3f", r.udpCount)
		}
		round := strconv.Itoa(r.round)
		if r.try > 1 {
			round += fmt.Sprintf(" (try %d)", r.try)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%d\t%s\t%.0f\t%.0f\t%.1f%%\t%s\t%s\t%.2f\t%.2f\t%s\t%s\t\n",
			round, label(r.state), r.tcpGbps, r.tcpRetr, tc, r.udpRxPPS, r.udpTxPPS, 100*r.udpLost, uc, at, r.others, r.steal,
			r.waited.Round(100*time.Millisecond), r.verdict())
	}
	_ = tw.Flush()
	return sb.String()
}

// The rounds' order swaps the attached states every cycle, and a round is compared with
// the nearest clean rounds of the other state on both sides, interpolated: a linear
// drift cancels.
func TestIperfOrderAndNeighbours(t *testing.T) {
	c := iperfConfig{rounds: 3, states: []iperfState{iperfBaseline, iperfNetctl}}
	got := fmt.Sprint(c.order())
	if want := "[detached baseline netctl detached netctl baseline detached baseline netctl]"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
	if got := fmt.Sprint(c.ratioPairs()); got != "[[baseline detached] [netctl detached] [netctl baseline]]" {
		t.Errorf("ratio pairs %s", got)
	}
	var rounds []iperfRound
	for i, st := range c.order() {
		rounds = append(rounds, iperfRound{round: i + 1, state: st, final: true, clean: true, udpRxPPS: float64(10 * (i + 1))})
	}
	rounds[3].clean = false // the second detached round: its neighbours use the others
	v := func(r iperfRound) float64 { return r.udpRxPPS }
	// netctl rounds 3, 5, 9 (values 30, 50, 90); clean detached 1 and 7 (10, 70): the
	// line through those gives 30 and 50 at rounds 3 and 5; round 9 has only round 7.
	want := []float64{1, 1, 90.0 / 70}
	if got := neighbourRatios(rounds, iperfNetctl, iperfDetached, v); !slices.Equal(got, want) {
		t.Errorf("netctl/detached by neighbours %v, want %v", got, want)
	}
	// netctl against empty (rounds 2, 6, 8): 3 and 5 on the line through 2 and 6; 9 → 80.
	want = []float64{1, 1, 90.0 / 80}
	if got := neighbourRatios(rounds, iperfNetctl, iperfBaseline, v); !slices.Equal(got, want) {
		t.Errorf("netctl/empty by neighbours %v, want %v", got, want)
	}
}
