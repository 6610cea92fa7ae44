package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/cmd/rwin/report"
	"rwin/fixtures"
)

// rwin live as a long-running service: its -o file rotated under it,
// SIGHUP, and the privileges it keeps.

// fileLines reads path's lines, none if it does not exist yet.
func fileLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	if len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// waitLines waits until path has at least n lines.
func waitLines(t *testing.T, path string, n int, p *liveProcess) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines := fileLines(t, path)
		if len(lines) >= n {
			return lines
		}
		require.True(t, time.Now().Before(deadline), "%s: %d lines, want %d; rwin: %s", path, len(lines), n, p.errText())
		time.Sleep(50 * time.Millisecond)
	}
}

// signalStop sends sig and waits for a clean exit.
func (p *liveProcess) signalStop(t *testing.T, sig os.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	select {
	case err := <-p.done:
		require.NoError(t, err, "rwin live after %v: %s", sig, p.errText())
	case <-time.After(10 * time.Second):
		t.Fatalf("rwin live did not stop on %v: %s", sig, p.errText())
	}
}

// TestLiveReopensOutputOnSIGHUP does what logrotate does between two
// flows: rename the -o file, send SIGHUP. The first flow stays in the
// renamed file, the second and the summary land in the new one, and no
// record is lost or split.
func TestLiveReopensOutputOnSIGHUP(t *testing.T) {
	lab := newLiveLab(t)
	bin := rwinBinary(t)
	out := filepath.Join(t.TempDir(), "flows.ndjson")
	p := lab.startLive(bin, "-o", out, "tcp")
	srv := lab.startServer()

	lab.transfer(cleanPort)
	before := waitLines(t, out, 1, p)
	rotated := out + ".1"
	require.NoError(t, os.Rename(out, rotated))
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	deadline := time.Now().Add(5 * time.Second)
	for _, err := os.Stat(out); err != nil; _, err = os.Stat(out) {
		require.True(t, time.Now().Before(deadline), "rwin did not reopen %s after SIGHUP: %s", out, p.errText())
		time.Sleep(20 * time.Millisecond)
	}
	lab.transfer(stripPort)
	srv.wait()
	waitLines(t, out, 1, p)
	p.interrupt(t)

	assert.Empty(t, p.lines(), "with -o nothing goes to standard output")
	old, cur := fileLines(t, rotated), fileLines(t, out)
	assert.Equal(t, before, old, "nothing written to the renamed file after SIGHUP")
	flows, summary := labRecords(t, append(append([]string{}, old...), cur...))
	checkLabFlows(t, flows)
	assert.Equal(t, float64(2), summary["flows"], "both flows counted, one in each file")
	require.Len(t, old, 1)
	assert.Contains(t, old[0], fmt.Sprintf(":%d\"", cleanPort), "the first flow, in the renamed file")
	require.Len(t, cur, 2)
	assert.Contains(t, cur[0], fmt.Sprintf(":%d\"", stripPort), "the second flow, in the new file")
	st, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm(), "flow records name hosts: not world-readable")
}

// TestLiveStopsCleanlyOnSIGHUPWithoutOutputFile: a dropped SSH session
// sends SIGHUP; without -o to reopen, rwin stops as on SIGTERM and
// reports everything.
func TestLiveStopsCleanlyOnSIGHUPWithoutOutputFile(t *testing.T) {
	lab := newLiveLab(t)
	p := lab.startLive(rwinBinary(t), "tcp")
	lab.transfers()
	p.waitFlows(t, 2)
	p.signalStop(t, syscall.SIGHUP)
	flows, summary := labRecords(t, p.lines())
	checkLabFlows(t, flows)
	assert.Equal(t, "hangup", jsonAt(summary, "capture", "stopped"))
	assert.NotNil(t, jsonAt(summary, "capture", "dropped"), "the kernel's counters are reported")
}

func TestLiveOutputFileRefusesASymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("keep\n"), 0o600))
	link := filepath.Join(dir, "flows.ndjson")
	require.NoError(t, os.Symlink(target, link))
	_, err := openLogFile(link)
	assert.EqualError(t, err, "live: -o "+link+": is a symbolic link; name the file itself")
	data, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "keep\n", string(data), "the link's target is untouched")
}

func TestLiveOutputFileAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.ndjson")
	require.NoError(t, os.WriteFile(path, []byte("{\"earlier\":1}\n"), 0o640))
	l, err := openLogFile(path)
	require.NoError(t, err)
	_, err = l.Write([]byte("{\"later\":2}\n"))
	require.NoError(t, err)
	require.NoError(t, l.Close())
	assert.Equal(t, []string{`{"earlier":1}`, `{"later":2}`}, fileLines(t, path), "a restarted sensor adds to its log")
}

// procStatus reads the fields of /proc/PID/task/TID/status that say who
// a thread runs as and what it may do, for every thread of pid.
func procStatus(t *testing.T, pid int) []map[string]string {
	t.Helper()
	paths, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	var threads []map[string]string
	for _, path := range paths {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		m := map[string]string{}
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				m[k] = strings.Join(strings.Fields(v), " ")
			}
		}
		threads = append(threads, m)
	}
	return threads
}

// assertNoCapabilities checks that every thread of pid holds no
// capability and may not gain one.
func assertNoCapabilities(t *testing.T, pid int) {
	t.Helper()
	for _, th := range procStatus(t, pid) {
		for _, set := range []string{"CapPrm", "CapEff", "CapAmb"} {
			assert.Equal(t, "0000000000000000", th[set], "thread %s: %s", th["Pid"], set)
		}
		assert.Equal(t, "1", th["NoNewPrivs"], "thread %s", th["Pid"])
	}
}

// TestLiveNeedsOnlyNetRaw runs rwin as nobody with CAP_NET_RAW and no
// other capability (bounding set included), in promiscuous mode: it
// captures and reports the lab's flows, and once capturing holds nothing.
func TestLiveNeedsOnlyNetRaw(t *testing.T) {
	lab := newLiveLab(t)
	setpriv := requireTool(t, "setpriv", "to run rwin with one capability")
	bin := rwinBinary(t)
	only := "-all,+net_raw"
	p := lab.startLiveVia([]string{setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups",
		"--inh-caps", only, "--ambient-caps", only, "--bounding-set", only}, bin, "-p", "tcp")
	// ip netns exec and setpriv exec rwin: the pid is rwin's.
	pid := p.cmd.Process.Pid
	for _, th := range procStatus(t, pid) {
		assert.Equal(t, "0000000000002000", th["CapBnd"], "thread %s: CAP_NET_RAW (bit 13) only", th["Pid"])
		assert.Equal(t, "65534 65534 65534 65534", th["Uid"])
	}
	assertNoCapabilities(t, pid)
	out, err := exec.Command("ip", "-n", lab.serverNS, "-d", "link", "show", lab.serverIf).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "promiscuity 1", "-p put the interface in promiscuous mode")
	lab.transfers()
	p.waitFlows(t, 2)
	p.interrupt(t)
	flows, _ := labRecords(t, p.lines())
	checkLabFlows(t, flows)
}

// TestLiveBecomesUserZ starts rwin as root with -Z nobody: it opens the
// capture and the -o file as root, gives the file to nobody, becomes
// nobody with no capability left, and still reports every flow.
func TestLiveBecomesUserZ(t *testing.T) {
	lab := newLiveLab(t)
	bin := rwinBinary(t)
	// nobody must reach the directory to reopen the file.
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	out := filepath.Join(dir, "flows.ndjson")
	p := lab.startLive(bin, "-Z", "nobody", "-o", out, "tcp")
	pid := p.cmd.Process.Pid
	for _, th := range procStatus(t, pid) {
		assert.Equal(t, "65534 65534 65534 65534", th["Uid"], "thread %s", th["Pid"])
		assert.Equal(t, "65534", th["Groups"], "thread %s: no supplementary group of root's", th["Pid"])
	}
	assertNoCapabilities(t, pid)
	st, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, uint32(65534), st.Sys().(*syscall.Stat_t).Uid, "the -o file is the user's, so it can reopen it")

	lab.transfers()
	waitLines(t, out, 2, p)
	p.signalStop(t, syscall.SIGTERM)
	flows, summary := labRecords(t, fileLines(t, out))
	checkLabFlows(t, flows)
	assert.Equal(t, "terminated", jsonAt(summary, "capture", "stopped"))
}

func TestLiveZRefusedWithoutRoot(t *testing.T) {
	fixtures.RequireRoot(t)
	requireLive(t)
	setpriv := requireTool(t, "setpriv", "to run rwin as another user")
	bin := rwinBinary(t)
	cmd := exec.Command(setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups",
		"--inh-caps", "-all,+net_raw", "--ambient-caps", "-all,+net_raw", bin, "live", "-i", "lo", "-Z", "daemon")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	assert.Equal(t, exitInput, exit.ExitCode())
	assert.Equal(t, "rwin: live: -Z daemon: only root can switch users (rwin runs as uid "+strconv.Itoa(65534)+")\n", string(out))
}

// TestLiveTextReopenStartsWithTheHeader: a text table rotated by logrotate
// starts the new file with its column header, so each file reads alone.
func TestLiveTextReopenStartsWithTheHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.txt")
	l, err := openLogFile(path)
	require.NoError(t, err)
	defer l.Close()
	out := newLiveOutput(liveOptions{format: "text"}, l, false)
	require.NoError(t, out.start())
	require.NoError(t, os.Rename(path, path+".1"))
	require.NoError(t, out.reopen(l))
	for _, f := range []string{path + ".1", path} {
		lines := fileLines(t, f)
		require.Len(t, lines, 1, f)
		assert.Regexp(t, `^\s+ID\s+CLIENT → SERVER\s+SVC`, lines[0], f)
	}
}

// TestLiveJSONReopenKeepsTheDocumentWhole: the JSON document, written on
// a goroutine of its own, is brought to a stop (Sync, which
// TestJSONSyncLetsTheFileBeSwapped holds to its word) before the file is
// opened anew; the old and the new file hold the whole document between
// them, every flow once and in order.
func TestLiveJSONReopenKeepsTheDocumentWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.json")
	l, err := openLogFile(path)
	require.NoError(t, err)
	defer l.Close()
	out := newLiveOutput(liveOptions{format: "json", iface: "lo"}, l, false)
	require.NoError(t, out.start())
	const flows = 600 // several buffers' worth of records before and after
	for id := uint64(1); id <= flows; id++ {
		out.flow(&analyze.Flow{ID: id})
		if id == flows/2 {
			require.NoError(t, os.Rename(path, path+".1"))
			require.NoError(t, out.reopen(l))
		}
	}
	require.NoError(t, out.finish(analyze.Summary{}, report.CaptureRecord{Interface: "lo"}))
	var doc []byte
	for _, f := range []string{path + ".1", path} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NotEmpty(t, b, f)
		doc = append(doc, b...)
	}
	var run struct {
		Flows []struct {
			ID uint64 `json:"id"`
		} `json:"flows"`
	}
	require.NoError(t, json.Unmarshal(doc, &run))
	require.Len(t, run.Flows, flows)
	for i, f := range run.Flows {
		assert.Equal(t, uint64(i+1), f.ID)
	}
}
