package rules

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
	"rwin/fixtures"
)

// findingsIn analyzes a capture of the public corpus and returns the
// findings of one rule, by the client port of their flow.
func findingsIn(t *testing.T, file, id string) map[uint16][]Finding {
	t.Helper()
	src, err := capture.Open(filepath.Join(fixtures.CorpusDir(t), file))
	require.NoError(t, err)
	defer src.Close()
	out := map[uint16][]Finding{}
	analyze.Run(src, nil, analyze.Config{}, func(f *analyze.Flow) {
		for _, x := range Evaluate(f) {
			if x.ID == id {
				out[f.Client.Addr.Port()] = append(out[f.Client.Addr.Port()], x)
			}
		}
	})
	return out
}

func TestConnectionSetupFindingsOnRealCaptures(t *testing.T) {
	t.Run("connection refused: syn answered by a reset (chrissanders tcp_refuseconnection)", func(t *testing.T) {
		got := findingsIn(t, "packets/tcp_refuseconnection.pcapng", "connection-refused")
		require.Len(t, got, 1)
		for _, ff := range got {
			assert.Equal(t, Warn, ff[0].Severity)
			assert.Contains(t, ff[0].Summary, "answered the SYN with a reset")
		}
	})
	t.Run("windows syn retries answered by resets (zeek pop3)", func(t *testing.T) {
		got := findingsIn(t, "zeek/pop3.pcap", "connection-refused")
		assert.Len(t, got, 2)
	})
	t.Run("syn and synack retried (ndpi heuristic_tcp_ack_payload)", func(t *testing.T) {
		got := findingsIn(t, "ndpi/heuristic_tcp_ack_payload.pcap", "slow-setup")
		assert.Len(t, got, 3)
		for _, ff := range got {
			assert.Equal(t, Warn, ff[0].Severity)
		}
	})
	t.Run("copies of a handshake are not retries (ndpi psiphon3, every packet twice)", func(t *testing.T) {
		assert.Empty(t, findingsIn(t, "ndpi/psiphon3.pcap", "slow-setup"))
	})
	t.Run("syns retried and never answered (nmap os detection)", func(t *testing.T) {
		got := findingsIn(t, "packets/activeosfingerprinting.pcapng", "syn-unanswered")
		require.NotEmpty(t, got)
		for _, ff := range got {
			assert.Equal(t, Warn, ff[0].Severity)
			assert.Contains(t, ff[0].Why, "none answered")
		}
	})
	t.Run("established smb sessions reset by the windows client (suricata bug-5162)", func(t *testing.T) {
		got := findingsIn(t, "suricata/bug-5162__input.pcap", "connection-reset")
		require.Len(t, got, 6)
		for _, ff := range got {
			assert.Equal(t, Info, ff[0].Severity)
			assert.Contains(t, ff[0].Summary, "connection reset by the")
		}
	})
	t.Run("a reset outside the window is no reset (zeek 206_example_b, port 3254)", func(t *testing.T) {
		assert.Empty(t, findingsIn(t, "zeek/206_example_b.pcap", "connection-reset")[3254])
	})
}

// TestRealStacksWithoutMiddleboxRaiseNoMiddleboxFinding: a server that
// declines scaling, and every clean recording of real kernel stacks, never
// draw a middlebox finding at warn or error, at any confidence.
func TestRealStacksWithoutMiddleboxRaiseNoMiddleboxFinding(t *testing.T) {
	middlebox := map[string]bool{"wscale-stripped": true, "wscale-zeroed": true, "unscaled-window-enforced": true, "syn-proxy": true}
	caps := fixtureCaptures(t, "lab/server-ws-off/*.pcap", "lab/*clean/*.pcap", "lab/small-rcvbuf/*.pcap", "lab/midstream/*.pcap")
	for _, rel := range caps {
		t.Run(rel, func(t *testing.T) {
			_, found := evaluateCapture(t, rel)
			for _, ff := range found {
				for _, x := range ff {
					if middlebox[x.ID] {
						assert.Less(t, x.Severity, Warn, "%s %s/%s: %s", x.ID, x.Severity, x.Confidence, x.Summary)
					}
				}
			}
		})
	}
}
