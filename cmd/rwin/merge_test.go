package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/fixtures"
)

// splitPcap cuts a little-endian microsecond pcap file after its first
// `first` records into two files named like a dumpcap ring buffer's.
func splitPcap(t *testing.T, path string, first int) (string, string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, uint32(0xa1b2c3d4), binary.LittleEndian.Uint32(data), "a little-endian pcap")
	off := 24
	for range first {
		require.LessOrEqual(t, off+16, len(data))
		off += 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
	}
	dir := t.TempDir()
	a := filepath.Join(dir, "rdp_00001_20260101020000.pcap")
	b := filepath.Join(dir, "rdp_00002_20260101020100.pcap")
	require.NoError(t, os.WriteFile(a, data[:off], 0o644))
	require.NoError(t, os.WriteFile(b, append(append([]byte{}, data[:24]...), data[off:]...), 0o644))
	return a, b
}

// flowsOf runs rwin read --format json and returns its flows without the
// file name, which differs between a set and its original.
func flowsOf(t *testing.T, args ...string) ([]map[string]any, runRecord) {
	t.Helper()
	code, out, stderr := rwinRun(t, nil, append([]string{"read", "--format", "json"}, args...)...)
	require.Equal(t, exitOK, code, stderr)
	var doc struct {
		Flows []map[string]any `json:"flows"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	var run runRecord
	require.NoError(t, json.Unmarshal([]byte(out), &run))
	for _, f := range doc.Flows {
		delete(f, "file")
	}
	return doc.Flows, run
}

func TestReadRingBufferFiles(t *testing.T) {
	orig := filepath.Join(fixtures.Dir(), "captures", "lab", "rdp-clean", "client.pcap")
	a, b := splitPcap(t, orig, 20)
	want, _ := flowsOf(t, orig)
	require.NotEmpty(t, want)

	t.Run("merged in either order gives the flows of the unsplit capture", func(t *testing.T) {
		for _, order := range [][]string{{a, b}, {b, a}} {
			got, run := flowsOf(t, append([]string{"--merge"}, order...)...)
			assert.Equal(t, want, got)
			require.Len(t, run.Summary.Files, 1, "one capture")
			assert.Empty(t, run.Summary.Files[0].Warnings)
		}
	})
	t.Run("the later file read alone says its handshakes may be in the earlier one", func(t *testing.T) {
		flows, run := flowsOf(t, b)
		require.NotEmpty(t, flows)
		for _, f := range flows {
			assert.Equal(t, "none", f["handshake"])
			assert.Contains(t, f["handshake_notes"], "handshake-maybe-in-earlier-file")
		}
		require.Len(t, run.Summary.Files, 1)
		assert.Contains(t, run.Summary.Files[0].Warnings[len(run.Summary.Files[0].Warnings)-1], "rwin read --merge reads the set as one capture")
	})
	t.Run("the html report of the later file gives the same warning", func(t *testing.T) {
		for _, tc := range []struct {
			file string
			warn bool
		}{{b, true}, {a, false}} {
			code, page, stderr := rwinRun(t, nil, "read", "--format", "html", tc.file)
			require.Equal(t, exitOK, code, stderr)
			has := strings.Contains(page, "began without a SYN here, and their handshakes may be in the file before; rwin read --merge reads the set as one capture")
			assert.Equal(t, tc.warn, has, "%s: the ring buffer warning", filepath.Base(tc.file))
		}
	})
	t.Run("the first file read alone has no such note", func(t *testing.T) {
		flows, _ := flowsOf(t, a)
		for _, f := range flows {
			assert.NotContains(t, f["handshake_notes"], "handshake-maybe-in-earlier-file")
		}
	})
}
