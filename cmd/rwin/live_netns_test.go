package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/fixtures"
)

// The end-to-end tests of rwin live run real kernel TCP stacks: two
// network namespaces joined by a veth pair, a server in one, a client in
// the other, and rwin capturing on the server's end. Goroutines cannot
// safely switch namespaces, so the server and client are this test binary
// run again (TestLiveLabHelper) under `ip netns exec`.

// Ports of the lab's two transfers: the client's SYN to stripPort goes
// through iptables TCPOPTSTRIP, which overwrites its window-scale option
// with NOPs.
const (
	cleanPort = 5001
	stripPort = 5002
	// labBytes is what each transfer sends: enough for the receive window
	// to grow past 64 KiB, where scaling matters.
	labBytes = 4 << 20
)

// TestLiveLabHelper is the server, client or HTTP client process of the
// lab; as a normal test it does nothing.
func TestLiveLabHelper(t *testing.T) {
	role := os.Getenv("RWIN_LAB_ROLE")
	if role == "" {
		return
	}
	var err error
	switch role {
	case "server":
		err = labServer(os.Getenv("RWIN_LAB_ADDR"))
	case "client":
		err = labClient(os.Getenv("RWIN_LAB_ADDR"))
	case "fetch":
		err = labFetch(os.Getenv("RWIN_LAB_ADDR"))
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab "+role+":", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// labServer listens on both lab ports, says "ready", and drains every
// connection until its client closes, then closes its end.
func labServer(host string) error {
	var wg sync.WaitGroup
	for _, port := range []int{cleanPort, stripPort} {
		ln, err := net.Listen("tcp4", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.Copy(io.Discard, c)
			c.Close()
		}()
	}
	fmt.Println("ready")
	wg.Wait()
	return nil
}

// labClient sends labBytes to addr, then closes and waits for the
// server's FIN.
func labClient(addr string) error {
	c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	for sent := 0; sent < labBytes; sent += len(buf) {
		if _, err := c.Write(buf); err != nil {
			return err
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, c)
	return err
}

// liveLab is a pair of network namespaces joined by a veth link.
type liveLab struct {
	t                  *testing.T
	clientNS, serverNS string
	serverIf           string
	serverAddr         string
}

// newLiveLab creates the namespaces, uniquely named so that parallel runs
// do not meet, and removes them when the test ends.
func newLiveLab(t *testing.T) *liveLab {
	t.Helper()
	requireLive(t)
	fixtures.RequireRoot(t)
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			fixtures.SkipUnlessCI(t, "%s is needed for the network-namespace lab: %v", tool, err)
		}
	}
	var id [3]byte
	_, err := rand.Read(id[:])
	require.NoError(t, err)
	tag := hex.EncodeToString(id[:])
	l := &liveLab{t: t, clientNS: "rwin-live-" + tag + "-c", serverNS: "rwin-live-" + tag + "-s",
		serverIf: "rwls" + tag, serverAddr: fmt.Sprintf("10.%d.%d.2", 64+id[0]%64, id[1])}
	clientAddr := strings.TrimSuffix(l.serverAddr, ".2") + ".1"
	l.ip("netns", "add", l.clientNS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", l.clientNS).Run() })
	l.ip("netns", "add", l.serverNS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", l.serverNS).Run() })
	clientIf := "rwlc" + tag
	l.ip("link", "add", clientIf, "netns", l.clientNS, "type", "veth", "peer", "name", l.serverIf, "netns", l.serverNS)
	for _, side := range []struct{ ns, dev, addr string }{{l.clientNS, clientIf, clientAddr}, {l.serverNS, l.serverIf, l.serverAddr}} {
		l.ip("-n", side.ns, "addr", "add", side.addr+"/24", "dev", side.dev)
		l.ip("-n", side.ns, "link", "set", side.dev, "up")
		l.ip("-n", side.ns, "link", "set", "lo", "up")
	}
	// Strip window scale from the client's SYNs to stripPort, as a
	// middlebox on the path would.
	iptables := func(op string) []string {
		return []string{"netns", "exec", l.clientNS, "iptables", "-t", "mangle", op, "OUTPUT", "-p", "tcp",
			"--dport", strconv.Itoa(stripPort), "--tcp-flags", "SYN", "SYN", "-j", "TCPOPTSTRIP", "--strip-options", "wscale"}
	}
	l.ip(iptables("-A")...)
	t.Cleanup(func() { exec.Command("ip", iptables("-D")...).Run() })
	return l
}

func (l *liveLab) ip(args ...string) {
	l.t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	require.NoError(l.t, err, "ip %s: %s", strings.Join(args, " "), out)
}

// inNS returns a command that runs in namespace ns.
func (l *liveLab) inNS(ns string, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// helper starts this test binary as a lab role in namespace ns.
func (l *liveLab) helper(ns, role, addr string) *exec.Cmd {
	cmd := l.inNS(ns, os.Args[0], "-test.run=^TestLiveLabHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RWIN_LAB_ROLE="+role, "RWIN_LAB_ADDR="+addr)
	return cmd
}

// labServerProcess is the lab's server, started by startServer.
type labServerProcess struct {
	l   *liveLab
	cmd *exec.Cmd
}

// startServer starts the lab's server and waits until it listens on both
// ports.
func (l *liveLab) startServer() *labServerProcess {
	t := l.t
	srv := l.helper(l.serverNS, "server", l.serverAddr)
	srvOut, err := srv.StdoutPipe()
	require.NoError(t, err)
	srv.Stderr = os.Stderr
	require.NoError(t, srv.Start())
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(srvOut).ReadString('\n')
		ready <- line
		io.Copy(io.Discard, srvOut)
	}()
	select {
	case line := <-ready:
		require.Equal(t, "ready\n", line)
	case <-time.After(10 * time.Second):
		t.Fatal("lab server did not start")
	}
	return &labServerProcess{l: l, cmd: srv}
}

// transfer runs one client to port and waits for it to end.
func (l *liveLab) transfer(port int) {
	out, err := l.helper(l.clientNS, "client", net.JoinHostPort(l.serverAddr, strconv.Itoa(port))).CombinedOutput()
	require.NoError(l.t, err, "client to port %d: %s", port, out)
}

// wait waits for the server to end, once both ports had their client.
func (s *labServerProcess) wait() {
	t := s.l.t
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "lab server")
	case <-time.After(10 * time.Second):
		t.Fatal("lab server did not finish")
	}
}

// transfers runs the clean and the stripped transfer, one after the
// other, and waits for both to end.
func (l *liveLab) transfers() {
	srv := l.startServer()
	for _, port := range []int{cleanPort, stripPort} {
		l.transfer(port)
	}
	srv.wait()
}

// rwinBinary builds rwin into a temporary directory.
func rwinBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rwin")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// liveProcess is rwin live running in the lab, its output collected.
type liveProcess struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout []string // lines so far
	stderr strings.Builder
	done   chan error
}

// startLive runs rwin live on the server's end of the link and waits
// until it listens.
func (l *liveLab) startLive(bin string, args ...string) *liveProcess {
	return l.startLiveVia(nil, bin, args...)
}

// startLiveVia is startLive with rwin run through a wrapper command such
// as setpriv (wrapper[0] is the program, the rest its arguments).
func (l *liveLab) startLiveVia(wrapper []string, bin string, args ...string) *liveProcess {
	t := l.t
	args = append([]string{"live", "-i", l.serverIf, "--format", "ndjson", "--linger", "300ms"}, args...)
	argv := append(append(wrapper[:len(wrapper):len(wrapper)], bin), args...)
	p := &liveProcess{cmd: l.inNS(l.serverNS, argv[0], argv[1:]...), done: make(chan error, 1)}
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() { p.cmd.Process.Kill() })
	listening := make(chan struct{})
	var collect sync.WaitGroup
	collect.Add(2)
	go func() {
		defer collect.Done()
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if strings.Contains(sc.Text(), "listening on") {
				once.Do(func() { close(listening) })
			}
		}
	}()
	go func() {
		defer collect.Done()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout = append(p.stdout, sc.Text())
			p.mu.Unlock()
		}
	}()
	go func() {
		collect.Wait()
		p.done <- p.cmd.Wait()
	}()
	select {
	case <-listening:
	case err := <-p.done:
		t.Fatalf("rwin live ended before listening (%v): %s", err, p.errText())
	case <-time.After(10 * time.Second):
		t.Fatalf("rwin live did not start listening: %s", p.errText())
	}
	return p
}

func (p *liveProcess) errText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *liveProcess) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.stdout...)
}

// waitFlows waits until n flow records were written.
func (p *liveProcess) waitFlows(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if len(p.lines()) >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%d flows were not reported as they ended; got %q; stderr: %s", n, p.lines(), p.errText())
}

// interrupt stops rwin with SIGINT, as Ctrl-C does, and checks it exits
// cleanly.
func (p *liveProcess) interrupt(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	select {
	case err := <-p.done:
		require.NoError(t, err, "rwin live after SIGINT: %s", p.errText())
	case <-time.After(10 * time.Second):
		t.Fatalf("rwin live did not stop on SIGINT: %s", p.errText())
	}
}

// labRecords splits rwin's NDJSON output into the flows by server port
// and the summary.
func labRecords(t *testing.T, lines []string) (map[int]map[string]any, map[string]any) {
	t.Helper()
	flows := map[int]map[string]any{}
	var summary map[string]any
	for i, line := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "line %d: %s", i+1, line)
		switch m["type"] {
		case "flow":
			_, port, err := net.SplitHostPort(m["server"].(string))
			require.NoError(t, err)
			p, _ := strconv.Atoi(port)
			require.NotContains(t, flows, p, "one flow per transfer")
			flows[p] = m
		case "summary":
			require.Nil(t, summary, "one summary")
			require.Equal(t, len(lines)-1, i, "the summary comes last")
			summary = m
		}
	}
	require.NotNil(t, summary, "a summary record")
	return flows, summary
}

// checkLabFlows asserts what the two transfers must show.
func checkLabFlows(t *testing.T, flows map[int]map[string]any) {
	t.Helper()
	require.Contains(t, flows, cleanPort)
	require.Contains(t, flows, stripPort)

	clean := flows[cleanPort]
	assert.Equal(t, "complete", clean["handshake"])
	assert.Equal(t, true, jsonAt(clean, "negotiated", "scaling"), "clean transfer: scaling negotiated")
	assert.NotNil(t, jsonAt(clean, "negotiated", "client_shift"))
	assert.NotNil(t, jsonAt(clean, "syn", "ws"))
	assert.Equal(t, "mss,sok,ts,nop,ws", jsonAt(clean, "syn", "layout"), "a Linux SYN")
	assert.NotNil(t, jsonAt(clean, "synack", "ws"))
	assert.Equal(t, "negotiated", jsonAt(clean, "rwin", "client", "basis"))

	strip := flows[stripPort]
	assert.Equal(t, "complete", strip["handshake"])
	assert.Equal(t, false, jsonAt(strip, "negotiated", "scaling"), "stripped transfer: scaling off")
	assert.Nil(t, jsonAt(strip, "syn", "ws"), "TCPOPTSTRIP removed the option")
	assert.Equal(t, "mss,sok,ts,nop,nop,nop,nop", jsonAt(strip, "syn", "layout"), "the option's three bytes became NOPs")
	assert.Nil(t, jsonAt(strip, "synack", "ws"), "Linux answers a SYN without window scale without it")
	assert.Equal(t, float64(0), jsonAt(strip, "negotiated", "server_shift"))

	for port, f := range flows {
		assert.Equal(t, true, jsonAt(f, "traffic", "client", "fin"), "port %d: client closed", port)
		assert.Equal(t, true, jsonAt(f, "traffic", "server", "fin"), "port %d: server closed", port)
		assert.GreaterOrEqual(t, jsonAt(f, "traffic", "client", "unique_bytes"), float64(labBytes), "port %d", port)
	}
}

// jsonAt reads a nested key of a decoded JSON object, nil if absent.
func jsonAt(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[k]
	}
	return v
}

func TestLiveReportsFlowsInANetworkNamespaceLab(t *testing.T) {
	requireLive(t)
	lab := newLiveLab(t)
	bin := rwinBinary(t)
	p := lab.startLive(bin, "tcp")
	start := time.Now()
	lab.transfers()
	p.waitFlows(t, 2)
	assert.Less(t, time.Since(start), 8*time.Second, "flows are reported when they end, not at the stop")
	p.interrupt(t)

	flows, summary := labRecords(t, p.lines())
	checkLabFlows(t, flows)
	assert.Equal(t, float64(2), summary["flows"])
	assert.Equal(t, "interrupt", jsonAt(summary, "capture", "stopped"))
	assert.Equal(t, lab.serverIf, jsonAt(summary, "capture", "interface"))
	assert.Equal(t, float64(1), jsonAt(summary, "capture", "link_type"), "Ethernet")
	assert.Equal(t, "tcp", jsonAt(summary, "capture", "filter"))
	assert.GreaterOrEqual(t, jsonAt(summary, "capture", "received"), summary["packets"], "the kernel counted what rwin read")
	assert.Equal(t, float64(0), jsonAt(summary, "capture", "dropped"))
	assert.Empty(t, jsonAt(summary, "capture", "weakened"), "nothing dropped, nothing weakened")
	assert.Equal(t, summary["packets"], summary["tcp_packets"], "the filter let only TCP through")
}

func TestLiveCaptureFileReadsBackTheSame(t *testing.T) {
	requireLive(t)
	lab := newLiveLab(t)
	bin := rwinBinary(t)
	file := filepath.Join(t.TempDir(), "lab.pcap")
	p := lab.startLive(bin, "-w", file, "tcp")
	lab.transfers()
	p.waitFlows(t, 2)
	p.interrupt(t)
	liveFlows, liveSum := labRecords(t, p.lines())
	checkLabFlows(t, liveFlows)
	assert.Equal(t, file, jsonAt(liveSum, "capture", "written_to"))

	out, err := exec.Command(bin, "read", "--format", "ndjson", file).Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("rwin read %s: %v: %s", file, err, exit.Stderr)
	}
	require.NoError(t, err)
	readFlows, readSum := labRecords(t, strings.Split(strings.TrimSpace(string(out)), "\n"))
	checkLabFlows(t, readFlows)
	assert.Equal(t, liveSum["packets"], readSum["packets"], "every captured packet was written")
	for port, lf := range liveFlows {
		rf := readFlows[port]
		assert.Equal(t, lab.serverIf, lf["file"])
		assert.Equal(t, file, rf["file"])
		delete(lf, "file")
		delete(rf, "file")
		assert.Equal(t, lf, rf, "port %d: the same flow from the file as live", port)
	}
}

// TestLiveWithoutCapabilityTellsHow runs the built binary with
// CAP_NET_RAW and CAP_NET_ADMIN removed, as an unprivileged user would.
func TestLiveWithoutCapabilityTellsHow(t *testing.T) {
	requireLive(t)
	fixtures.RequireRoot(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		fixtures.SkipUnlessCI(t, "setpriv (util-linux) is needed to drop capabilities: %v", err)
	}
	bin := rwinBinary(t)
	cmd := exec.Command(setpriv, "--bounding-set", "-net_raw,-net_admin", bin, "live", "-i", "lo")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, exitInput, exit.ExitCode())
	assert.Empty(t, out)
	assert.Regexp(t, `^rwin: live: lo: no permission to capture .*: run as root, or grant rwin the capture capability: `+
		`sudo setcap cap_net_raw=eip \S+/rwin\n$`, stderr.String())
}
