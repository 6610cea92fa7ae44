//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/fixtures"
)

// TestReadDirectory checks that rwin read given a directory reads the
// captures in it as rwin check selects them: sorted, only capture
// extensions, a pipe skipped with a note; the results are those of the
// files named one by one.
func TestReadDirectory(t *testing.T) {
	t.Chdir(fixtures.Dir())
	client := labCapture(t, "clean", "client")
	server := labCapture(t, "clean", "server")
	dir := t.TempDir()
	for name, src := range map[string]string{"b.pcap": client, "a.PCAP": server, "sub/c.pcap": client} {
		data, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a capture"), 0o644))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "ring.pcap"), 0o644))
	want := []string{filepath.Join(dir, "a.PCAP"), filepath.Join(dir, "b.pcap"), filepath.Join(dir, "sub", "c.pcap")}

	// JSON lists the inputs in the order read was given them (NDJSON
	// interleaves inputs read at once).
	code, fromDir, stderr := rwinRun(t, nil, "read", "--format", "json", dir)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, "rwin: read: note: skipped "+filepath.Join(dir, "ring.pcap")+": a pipe, not a capture file\n", stderr)
	_, fromFiles, _ := rwinRun(t, nil, append([]string{"read", "--format", "json"}, want...)...)
	assert.Equal(t, fromFiles, fromDir)

	var doc struct {
		Summary struct {
			Files []struct {
				File string `json:"file"`
			} `json:"files"`
		} `json:"summary"`
	}
	require.NoError(t, json.Unmarshal([]byte(fromDir), &doc))
	var read []string
	for _, f := range doc.Summary.Files {
		read = append(read, f.File)
	}
	assert.Equal(t, want, read, "sorted by name, the subdirectory included")
}
