package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
	"rwin/cmd/rwin/report"
	"rwin/fixtures"
)

// fixtureCapture is the path of a synthetic fixture capture, skipping the
// test (never under CI) when it is missing.
func fixtureCapture(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(fixtures.Dir(), "captures", "synthetic", name)
	if _, err := os.Stat(p); err != nil {
		fixtures.SkipUnlessCI(t, "fixture %s missing: %v", name, err)
	}
	return p
}

// TestCheckSummaryCountsUnreadableCaptures: a run that exits 2 because a
// capture could not be read says so in its closing line, not "0 failed"
// alone.
func TestCheckSummaryCountsUnreadableCaptures(t *testing.T) {
	cutShort := fixtureCapture(t, deliberatelyCutShort)
	good := fixtureCapture(t, "port-reuse.pcap")
	policy := filepath.Join(fixtures.Dir(), "policy.json")

	code, out, _ := rwinRun(t, nil, "check", "--policy", policy, good, cutShort)
	assert.Equal(t, exitInput, code)
	assert.Regexp(t, `(?m)^check: 2 captures, 0 failed, 1 could not be read, 0 violations`, out)

	code, out, _ = rwinRun(t, nil, "check", "--format", "json", "--policy", policy, good, cutShort)
	assert.Equal(t, exitInput, code)
	var doc report.CheckRecord
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Equal(t, 1, doc.Unread)
	assert.False(t, doc.OK)
}

// TestTableFlagsRejectNonsense: read, diff and check refuse a flow table
// of no flows or a linger that is not positive, in one line, as live does.
func TestTableFlagsRejectNonsense(t *testing.T) {
	capture := fixtureCapture(t, "port-reuse.pcap")
	policy := filepath.Join(fixtures.Dir(), "policy.json")
	for _, cmd := range []struct {
		name string
		args []string
	}{
		{"read", []string{"read", capture}},
		{"diff", []string{"diff", capture, capture}},
		{"check", []string{"check", "--policy", policy, capture}},
	} {
		for _, bad := range []struct {
			name, flag, value, want string
		}{
			{"max-flows zero", "--max-flows", "0", "--max-flows must be at least 1 (got 0)"},
			{"max-flows negative", "--max-flows", "-5", "--max-flows must be at least 1 (got -5)"},
			{"linger zero", "--linger", "0s", "--linger must be positive (got 0s)"},
			{"linger negative", "--linger", "-1s", "--linger must be positive (got -1s)"},
		} {
			t.Run(cmd.name+" "+bad.name, func(t *testing.T) {
				args := append(append([]string{}, cmd.args...), bad.flag, bad.value)
				code, out, stderr := rwinRun(t, nil, args...)
				assert.Equal(t, exitInput, code)
				assert.Empty(t, out)
				assert.Equal(t, "rwin: "+cmd.name+": "+bad.want+"\n", stderr)
			})
		}
	}
}

// TestFileNamesCannotDriveTheTerminal: a capture whose name holds escape
// sequences or line breaks is named with them escaped, in the text report,
// check's PASS/FAIL lines and messages on stderr.
func TestFileNamesCannotDriveTheTerminal(t *testing.T) {
	src, err := os.ReadFile(fixtureCapture(t, "port-reuse.pcap"))
	require.NoError(t, err)
	dir := t.TempDir()
	hostile := filepath.Join(dir, "x\x1b[2J\x1b]0;owned\a\rPASS  y.pcap")
	require.NoError(t, os.WriteFile(hostile, src, 0o644))
	cut := filepath.Join(dir, "cut\x1b[31m.pcap")
	require.NoError(t, os.WriteFile(cut, src[:len(src)-7], 0o644))
	policy := filepath.Join(fixtures.Dir(), "policy.json")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"read text", []string{"read", "--color", "never", hostile, cut}, `x\x1b[2J\x1b]0;owned\a\rPASS  y.pcap`},
		{"read verbose", []string{"read", "-v", "--color", "never", hostile}, `x\x1b[2J`},
		{"check", []string{"check", "--policy", policy, hostile, cut}, `PASS  ` + dir + `/x\x1b[2J`},
		{"missing file", []string{"read", filepath.Join(dir, "gone\x1b[2J.pcap")}, `gone\x1b[2J.pcap`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, out, stderr := rwinRun(t, nil, c.args...)
			assert.Contains(t, out+stderr, c.want)
			for _, s := range []string{out, stderr} {
				assert.NotContains(t, s, "\x1b")
				assert.NotContains(t, s, "\a")
				assert.NotContains(t, s, "\r")
			}
		})
	}
}

// retimed is the lab capture port-reuse.pcap as a pcap file, with
// retime applied to the time of each packet (numbered from 0, with the
// time of the packet before it).
func retimed(t *testing.T, retime func(i int, prev, time int64) int64) []byte {
	src, err := capture.Open(fixtureCapture(t, "port-reuse.pcap"))
	require.NoError(t, err)
	defer src.Close()
	var file bytes.Buffer
	w, err := capture.NewPcapWriter(&file, capture.LinkEthernet, 262144)
	require.NoError(t, err)
	var prev int64
	for i := 0; ; i++ {
		var p capture.Packet
		if err := src.Next(&p); err != nil {
			require.ErrorIs(t, err, io.EOF)
			return file.Bytes()
		}
		p.Time = retime(i, prev, p.Time)
		prev = p.Time
		require.NoError(t, w.Write(&p))
	}
}

// TestPacketsReorderedByMicrosecondsAreNoClockStep: a packet stamped
// 200 µs before the one captured ahead of it (two NIC queues, -i any) is
// ordinary reordering; it draws no warning about the clock.
func TestPacketsReorderedByMicrosecondsAreNoClockStep(t *testing.T) {
	file := retimed(t, func(i int, prev, time int64) int64 {
		if i == 5 {
			return prev - 200_000
		}
		return time
	})
	code, out, stderr := rwinRun(t, file, "read", "--color", "never", "-")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "-  76 packets, 76 TCP, 2 flows")
	assert.NotContains(t, stderr, "before the previous packet's")
}

// TestClockSteppedBackIsWarnedNotADuration: a packet stamped decades
// before its neighbours (a clock stepped back) is warned about; the
// capture and its flows keep their real durations, not 472,222 hours.
func TestClockSteppedBackIsWarnedNotADuration(t *testing.T) {
	file := retimed(t, func(i int, _, time int64) int64 {
		if i == 5 {
			return 0 // 1970
		}
		return time
	})

	code, out, stderr := rwinRun(t, file, "read", "--color", "never", "-")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "-  76 packets, 76 TCP, 2 flows, 1.078s\n")
	assert.NotRegexp(t, `\d+h\d+m`, out, "no duration in hours")
	assert.Regexp(t, `rwin: warning: -: packet 6: its timestamp is .* before the previous packet's`, stderr)

	code, out, _ = rwinRun(t, file, "read", "--format", "ndjson", "-")
	assert.Equal(t, exitOK, code)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct {
			Type     string   `json:"type"`
			Duration *float64 `json:"duration_s"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if rec.Duration != nil {
			assert.Less(t, *rec.Duration, 2.0, "flow duration in seconds")
		}
	}
}
