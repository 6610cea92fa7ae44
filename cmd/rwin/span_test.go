package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture/capturetest"
	"rwin/fixtures"
)

// TestFlowWithoutTimestampsHasNoDuration reads flows whose packets all
// lack a timestamp: their start and duration are unknown — null in JSON,
// said in words in the text detail — never the epoch and 0 s.
func TestFlowWithoutTimestampsHasNoDuration(t *testing.T) {
	tests := []struct {
		name, capture string
	}{
		{"a complete transfer", "captures/lab/rdp-clean/client.pcap"},
		{"a retried SYN", "captures/synthetic/win-syn-retry-drops-ws.pcap"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := filepath.Join(fixtures.Dir(), tc.capture)
			if _, err := os.Stat(orig); err != nil {
				fixtures.SkipUnlessCI(t, "fixture missing: %v", err)
			}
			path, _ := capturetest.Pcapng(t, orig, func(int) bool { return true })
			code, out, stderr := rwinRun(t, nil, "read", "--format", "ndjson", path)
			require.Equal(t, exitOK, code, stderr)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			require.Greater(t, len(lines), 1, "at least one flow")
			for _, line := range lines[:len(lines)-1] {
				var rec map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &rec))
				require.Contains(t, rec, "start")
				require.Contains(t, rec, "duration_s")
				assert.Nil(t, rec["start"], "unknown, not the epoch")
				assert.Nil(t, rec["duration_s"], "unknown, not 0")
			}
			code, text, stderr := rwinRun(t, nil, "read", "-v", "--color", "never", path)
			require.Equal(t, exitOK, code, stderr)
			assert.Contains(t, text, ", start and duration unknown (no packet had a timestamp); client/server told by")
			assert.NotContains(t, text, "1970-01-01")

			// The same capture with its timestamps has both.
			_, timed, _ := rwinRun(t, nil, "read", "--format", "ndjson", orig)
			var rec map[string]any
			require.NoError(t, json.Unmarshal([]byte(strings.SplitN(timed, "\n", 2)[0]), &rec))
			assert.NotNil(t, rec["start"])
			assert.NotNil(t, rec["duration_s"])
		})
	}
}
