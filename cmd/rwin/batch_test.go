package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/fixtures"
)

// TestBatchResultsMergeByConcatenation is README's recipe for an archive
// of captures: one `rwin read --format ndjson` per file, results
// concatenated, summary records summed. It must give what one run over
// every file gives.
func TestBatchResultsMergeByConcatenation(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtures.Dir(), "captures", "lab", "*", "server.pcap"))
	require.NoError(t, err)
	require.Greater(t, len(files), 3)
	read := func(args ...string) (flows []string, summary map[string]any) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"read", "--format", "ndjson"}, args...), nil, &stdout, &stderr)
		require.Equal(t, exitOK, code, stderr.String())
		for _, line := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
			var rec map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &rec))
			if rec["type"] == "flow" {
				flows = append(flows, line)
			} else {
				summary = rec
			}
		}
		return flows, summary
	}

	var merged []string
	sum := map[string]float64{}
	severity := map[string]float64{}
	for _, f := range files {
		flows, s := read(f)
		merged = append(merged, flows...)
		for _, k := range []string{"packets", "tcp_packets", "flows", "skipped", "errors"} {
			sum[k] += s[k].(float64)
		}
		for k, v := range s["findings_by_severity"].(map[string]any) {
			severity[k] += v.(float64)
		}
	}
	all, s := read(files...)
	slices.Sort(merged)
	slices.Sort(all)
	assert.Equal(t, all, merged, "the same flow records, line for line")
	for k, v := range sum {
		assert.Equal(t, s[k], v, k)
	}
	for k, v := range s["findings_by_severity"].(map[string]any) {
		assert.Equal(t, v, severity[k], "findings_by_severity.%s", k)
	}
	assert.Len(t, s["files"], len(files), "the per-file summaries are the files' own")
}
