//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/fixtures"
)

// feedFIFO makes a FIFO at path and writes data into it once a reader
// opens it, as a shell's <(cat file) does.
func feedFIFO(t *testing.T, path string, data []byte) {
	t.Helper()
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		f.Write(data)
		f.Close()
	}()
}

// withTimeout runs f, failing the test if it has not returned in time.
func withTimeout(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("hung: no result after %v", d)
	}
}

// TestDiffOfPipesIsDiffOfFiles: rwin diff <(cat a) <(cat b), or of two
// FIFOs, gives the result of diffing the files (each is spooled, said on
// stderr), never "empty file" or a hang.
func TestDiffOfPipesIsDiffOfFiles(t *testing.T) {
	lab := filepath.Join(fixtures.Dir(), "captures", "lab", "clean")
	client, err := os.ReadFile(filepath.Join(lab, "client.pcap"))
	if err != nil {
		fixtures.SkipUnlessCI(t, "lab capture missing: %v", err)
	}
	server, err := os.ReadFile(filepath.Join(lab, "server.pcap"))
	require.NoError(t, err)
	_, want, _ := rwinRun(t, nil, "diff", "--format", "json", filepath.Join(lab, "client.pcap"), filepath.Join(lab, "server.pcap"))

	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
	feedFIFO(t, a, client)
	feedFIFO(t, b, server)
	var code int
	var got, stderr string
	withTimeout(t, 30*time.Second, func() { code, got, stderr = rwinRun(t, nil, "diff", "--format", "json", a, b) })
	assert.Equal(t, exitOK, code, stderr)
	norm := func(s, x, y string) string {
		return strings.NewReplacer(x, "A", y, "B").Replace(s)
	}
	assert.Equal(t, norm(want, filepath.Join(lab, "client.pcap"), filepath.Join(lab, "server.pcap")), norm(got, a, b))
	assert.Regexp(t, `(?m)^rwin: diff: note: .*a.pcap is a pipe and diff reads each capture twice: its 79 kB were spooled to `, stderr)
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "rwin-diff-*"))
	for _, m := range matches {
		assert.NotContains(t, stderr, m, "spool files are removed")
	}
}

// TestCheckSkipsFIFOsInDirectories: a FIFO named like a capture in a
// directory check searches is skipped with a note instead of blocking
// the run forever.
func TestCheckSkipsFIFOsInDirectories(t *testing.T) {
	src, err := os.ReadFile(fixtureCapture(t, "port-reuse.pcap"))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.pcap"), src, 0o644))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "b.pcap"), 0o600))
	var code int
	var out, stderr string
	withTimeout(t, 30*time.Second, func() {
		code, out, stderr = rwinRun(t, nil, "check", "--policy", filepath.Join(fixtures.Dir(), "policy.json"), dir)
	})
	assert.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "check: 1 capture, 0 failed")
	assert.Equal(t, "rwin: check: note: skipped "+filepath.Join(dir, "b.pcap")+": a pipe, not a capture file\n", stderr)
}
