package main

import (
	"encoding/json"
	"path/filepath"
	"rwin/cmd/rwin/report"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/fixtures"
)

// Table, -v and JSON say the same about messy handshakes.

func corpusFlows(t *testing.T, file string) map[string]flowRecord {
	t.Helper()
	code, out, stderr := rwinRun(t, nil, "read", "--format", "ndjson", file)
	require.Equal(t, 0, code, stderr)
	flows := map[string]flowRecord{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r flowRecord
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		if r.Type == "flow" {
			flows[r.Client] = r
		}
	}
	return flows
}

func TestNeverAnsweredSYNsShowNothingNegotiated(t *testing.T) {
	file := filepath.Join(fixtures.CorpusDir(t), "packets", "activeosfingerprinting.pcapng")
	code, out, stderr := rwinRun(t, nil, "read", "-v", file)
	require.Equal(t, 0, code, stderr)
	for _, line := range strings.Split(out, "\n") {
		assert.False(t, strings.HasPrefix(strings.TrimSpace(line), "answered"), "-v says a SYN was answered: %q", line)
	}
	r, ok := corpusFlows(t, file)["172.16.16.128:53951"]
	require.True(t, ok)
	assert.Equal(t, "syn-only", r.Handshake)
	assert.Equal(t, report.NegotiatedRecord{ScalingBasis: "unknown"}, r.Negotiated, "every negotiated field null")
	assert.Nil(t, r.SYNAnswered)
	assert.Contains(t, out, "negotiated  scaling unknown; SACK unknown; timestamps unknown")
}

func TestSYNACKBeforeSYNAgreesEverywhere(t *testing.T) {
	file := filepath.Join(fixtures.CorpusDir(t), "arkime", "tcp_handshake_synthetic.pcap")
	r, ok := corpusFlows(t, file)["192.0.2.10:40012"]
	require.True(t, ok)
	assert.Equal(t, "complete", r.Handshake)
	assert.Equal(t, "syn", r.RolesFrom)
	require.NotNil(t, r.Negotiated.Scaling)
	assert.False(t, *r.Negotiated.Scaling)
	assert.Equal(t, "handshake", r.Negotiated.ScalingBasis)

	code, out, _ := rwinRun(t, nil, "read", "-v", file)
	require.Equal(t, 0, code)
	block := ""
	for _, b := range strings.Split(out, "\n\n") {
		if strings.HasPrefix(b, "flow ") && strings.Contains(b, " 192.0.2.10:40012 →") {
			block = b
		}
	}
	assert.Contains(t, block, "handshake   complete")
	assert.Contains(t, block, "scaling off")
	row := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "192.0.2.10:40012 →") && !strings.HasPrefix(line, "flow") {
			row = line
		}
	}
	assert.Regexp(t, `complete\s+off\s`, row, "the table row")
}

func TestSYNACKWithoutItsSYNSaysWhatItSettled(t *testing.T) {
	file := filepath.Join(fixtures.CorpusDir(t), "ndpi", "tls_multiple_synack_different_seq.pcapng")
	flows := corpusFlows(t, file)
	require.Len(t, flows, 1)
	for _, r := range flows {
		require.NotNil(t, r.Negotiated.Scaling)
		assert.True(t, *r.Negotiated.Scaling)
		assert.Equal(t, "synack", r.Negotiated.ScalingBasis)
		assert.Nil(t, r.Negotiated.ClientShift, "the client's shift is not in the capture")
		require.NotNil(t, r.Negotiated.ServerShift)
		assert.Equal(t, uint8(8), *r.Negotiated.ServerShift)
	}
	code, out, _ := rwinRun(t, nil, "read", "-v", file)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "scaling on (client shift unknown, server shift 8), settled by the SYN-ACK alone (RFC 7323 §2.2)")
	assert.Contains(t, out, "synack-only  ?/8")
}

// TestUnansweredSYNsNamedByServerEndpoint: the summary says, per server
// endpoint that left SYNs unanswered, from how many clients, how many
// tries, over how long, in the text and in the JSON summary.
func TestUnansweredSYNsNamedByServerEndpoint(t *testing.T) {
	file := filepath.Join(fixtures.CorpusDir(t), "packets", "activeosfingerprinting.pcapng")
	code, out, stderr := rwinRun(t, nil, "read", file)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "SYNs nobody answered: 172.16.16.150:135 from 1 client, 4 SYNs in 1 attempt over ")

	code, out, stderr = rwinRun(t, nil, "read", "--format", "ndjson", file)
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum summaryRecord
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &sum))
	require.Len(t, sum.Files, 1)
	got := sum.Files[0].Unanswered
	require.Len(t, got, 2)
	assert.Equal(t, "172.16.16.150:135", got[0].Server)
	assert.Equal(t, 1, got[0].Clients)
	assert.Equal(t, uint64(1), got[0].Attempts)
	assert.Equal(t, uint64(4), got[0].SYNs)
	require.NotNil(t, got[0].DurationS)
	assert.InDelta(t, 0.525, *got[0].DurationS, 0.001)
}
