package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
	"rwin/fixtures"
)

// fixtureCaptures returns the captures under fixtures/captures that match
// the patterns, relative to it; with none it skips (fails under CI).
func fixtureCaptures(t *testing.T, patterns ...string) []string {
	t.Helper()
	var out []string
	for _, pattern := range patterns {
		m, err := filepath.Glob(filepath.Join(fixtures.Dir(), "captures", pattern))
		require.NoError(t, err)
		for _, p := range m {
			rel, _ := filepath.Rel(filepath.Join(fixtures.Dir(), "captures"), p)
			out = append(out, rel)
		}
	}
	if len(out) == 0 {
		fixtures.SkipUnlessCI(t, "no fixture captures %v under %s", patterns, fixtures.Dir())
	}
	return out
}

// evaluateCapture analyzes a capture under fixtures/captures and returns
// every flow with its findings.
func evaluateCapture(t *testing.T, rel string) ([]analyze.Flow, [][]Finding) {
	t.Helper()
	path := filepath.Join(fixtures.Dir(), "captures", rel)
	if _, err := os.Stat(path); err != nil {
		fixtures.SkipUnlessCI(t, "fixture capture %s is missing: %v", rel, err)
	}
	src, err := capture.Open(path)
	require.NoError(t, err)
	defer src.Close()
	var flows []analyze.Flow
	var found [][]Finding
	analyze.Run(src, nil, analyze.Config{}, func(f *analyze.Flow) {
		flows = append(flows, *f)
		found = append(found, Evaluate(f))
	})
	return flows, found
}

// summarize renders findings as "id severity/confidence", sorted, so a table
// can state every finding a capture must raise and no other.
func summarize(found [][]Finding) []string {
	out := []string{}
	for _, ff := range found {
		for _, x := range ff {
			out = append(out, fmt.Sprintf("%s %s/%s", x.ID, x.Severity, x.Confidence))
		}
	}
	slices.Sort(out)
	return out
}

// fixtureFindings is what every lab and synthetic capture must conclude:
// exactly these findings, no more (precision) and no fewer (recall). The
// lab captures come in pairs: client.pcap next to the client, server.pcap
// next to the server, with the middlebox between them.
var fixtureFindings = []struct {
	capture, name string
	want          []string
}{
	// Clean paths: nothing above info, and here nothing at all.
	{"lab/clean/client.pcap", "clean path at the client", nil},
	{"lab/clean/server.pcap", "clean path at the server", nil},
	{"lab/rdp-clean/client.pcap", "clean rdp at the client", nil},
	{"lab/rdp-clean/server.pcap", "clean rdp at the server", nil},
	{"lab/smb-clean/client.pcap", "clean smb at the client", nil},
	{"lab/smb-clean/server.pcap", "clean smb at the server", nil},
	{"lab/nat/client.pcap", "nat at the client", nil},
	{"lab/nat/server.pcap", "nat at the server", nil},
	{"lab/seq-offset/client.pcap", "sequence-randomizing firewall at the client", nil},
	{"lab/seq-offset/server.pcap", "sequence-randomizing firewall at the server", nil},

	// Window scale stripped from the SYN by TCPOPTSTRIP: at the server the
	// NOPs prove it; at the client nothing shows a device, and it looks
	// like a server with scaling off: declined, with the capture that tells.
	{"lab/ws-strip-syn/server.pcap", "tcpoptstrip nops in the syn prove the strip",
		[]string{"window-limited warn/high", "wscale-stripped warn/high"}},
	{"lab/ws-strip-syn/client.pcap", "syn stripped beyond the capture point looks like a server with scaling off",
		[]string{"window-limited warn/medium", "wscale-declined warn/medium"}},
	{"lab/ws-strip-syn-v6/server.pcap", "tcpoptstrip over ipv6 at the server",
		[]string{"window-limited warn/high", "wscale-stripped warn/high"}},
	{"lab/ws-strip-syn-v6/client.pcap", "tcpoptstrip over ipv6 at the client",
		[]string{"window-limited warn/medium", "wscale-declined warn/medium"}},
	{"lab/rdp-ws-strip-syn/server.pcap", "rdp syn stripped, at the server", []string{"wscale-stripped warn/high"}},
	{"lab/rdp-ws-strip-syn/client.pcap", "rdp syn stripped, at the client", []string{"wscale-declined warn/medium"}},
	{"lab/smb-ws-strip-syn/server.pcap", "smb syn stripped, at the server",
		[]string{"window-limited info/medium", "wscale-stripped warn/high"}},
	{"lab/smb-ws-strip-syn/client.pcap", "smb syn stripped, at the client", []string{"wscale-declined warn/medium"}},

	// Stripped from the SYN-ACK: the ends disagree about scaling.
	{"lab/ws-strip-synack/client.pcap", "synack with tcpoptstrip nops from a server that scales", []string{"wscale-stripped error/high"}},
	{"lab/ws-strip-synack/server.pcap", "client that announced shift 7 advertises unscaled windows", []string{"wscale-stripped error/high"}},
	{"lab/ws-remove-synack/client.pcap", "synack repacked without ws from a server that scales", []string{"wscale-stripped error/high"}},
	{"lab/ws-remove-synack/server.pcap", "repacked synack seen from the server", []string{"wscale-stripped error/high"}},

	// A token-bucket bottleneck (tc tbf, 8 Mbit/s) below the window's
	// ceiling: the link sets the pace, its drops are no loss ceiling the
	// flow runs at (Mathis assumes spread-out losses), so neither limit
	// is reported.
	{"lab/tbf-bottleneck/server.pcap", "tbf bottleneck at the sender: neither window nor loss holds it", nil},
	{"lab/tbf-bottleneck/client.pcap", "tbf bottleneck at the receiver", nil},

	// The server's own choice (Linux net.ipv4.tcp_window_scaling=0): never
	// a middlebox finding.
	{"lab/server-ws-off/server.pcap", "server with scaling disabled, at the server: the server declined",
		[]string{"window-limited warn/high", "wscale-declined warn/high"}},
	{"lab/server-ws-off/client.pcap", "server with scaling disabled, at the client: declined, or a strip beyond",
		[]string{"window-limited warn/medium", "wscale-declined warn/medium"}},

	// Shift rewritten to 0.
	{"lab/ws-zero-syn/server.pcap", "syn shift 0 while the client divides its windows by 128", []string{"wscale-zeroed error/high"}},
	{"lab/ws-zero-syn/client.pcap", "server fills the client's raw window to the byte", []string{"wscale-zeroed error/high"}},
	{"lab/ws-zero-synack/client.pcap", "synack shift 0 while the server divides its windows", []string{"wscale-zeroed error/high"}},
	{"lab/ws-zero-synack/server.pcap", "client fills the server's raw window to the byte", []string{"wscale-zeroed error/high"}},

	// The unscaled-window firewall hang.
	{"lab/fw-unscaled-window/server.pcap", "head segment resent until the deadline", []string{"unscaled-window-enforced error/high"}},
	{"lab/fw-unscaled-window/client.pcap", "server data never arrives", []string{"unscaled-window-enforced error/medium"}},
	{"lab/rdp-fw-unscaled-window/server.pcap", "rdp hang at the server", []string{"unscaled-window-enforced error/high"}},
	{"lab/rdp-fw-unscaled-window/client.pcap", "rdp hang at the client", []string{"unscaled-window-enforced error/medium"}},
	{"lab/smb-fw-unscaled-window/server.pcap", "smb hang at the server", []string{"unscaled-window-enforced error/high"}},
	{"lab/smb-fw-unscaled-window/client.pcap", "smb hang at the client", []string{"unscaled-window-enforced error/medium"}},
	// The same firewall when the window field holds full-size segments
	// (shift 2): the edge moves with every ACK and the download completes
	// through retransmissions. Next to the sender, loss that strikes only
	// data first sent beyond the edge gives it away (medium: a shallow
	// bottleneck dropping burst tails looks alike); next to the receiver
	// it is ordinary loss, and only rwin diff proves it.
	{"lab/fw-unscaled-window-2seg/server.pcap", "firewall within a 40 KB field at the server: loss only beyond the edge", []string{"unscaled-window-enforced warn/medium"}},
	{"lab/fw-unscaled-window-2seg/client.pcap", "firewall within a 40 KB field at the client: the flow recovers", nil},
	{"synthetic/unscaled-window-firewall.pcap", "windows rdp hang ending in a reset", []string{"connection-reset info/high", "unscaled-window-enforced error/high"}},

	// SYN proxies.
	{"lab/syn-proxy/client.pcap", "proxy synack with ttl 255 and no ws", []string{"syn-proxy error/high"}},
	{"lab/syn-proxy/server.pcap", "handshake completed in 90 µs by the proxy", []string{"syn-proxy error/medium"}},
	{"synthetic/f5-syncookie-no-ws.pcap", "f5 syn cookie without ws", []string{"syn-proxy error/high"}},

	// Window-limited, no middlebox.
	{"lab/small-rcvbuf/server.pcap", "64 KiB receive buffer at 80 ms, at the sender", []string{"window-limited warn/high"}},
	{"lab/small-rcvbuf/client.pcap", "64 KiB receive buffer at 80 ms, at the receiver", []string{"window-limited warn/medium"}},
	{"synthetic/zero-window.pcap", "receiving application pauses", []string{"zero-window warn/high"}},

	// Other options.
	{"lab/sack-strip/server.pcap", "syn repacked without sack-permitted", []string{"sack-stripped info/medium"}},
	{"lab/sack-strip/client.pcap", "synack without sack-permitted", []string{"sack-stripped info/low"}},
	{"lab/ts-strip/server.pcap", "syn repacked without timestamps", []string{"timestamps-stripped info/medium"}},
	{"lab/ts-strip/client.pcap", "synack without timestamps", []string{"timestamps-stripped info/low"}},
	{"lab/mss-clamp/server.pcap", "syn mss 1360 after two routers", []string{"mss-clamped info/low"}},
	{"lab/mss-clamp/client.pcap", "synack mss 1360 after two routers", []string{"mss-clamped info/low"}},

	// No handshake.
	{"lab/midstream/server.pcap", "mid-stream at the sender", []string{"scale-unknown info/high", "scale-unknown info/medium"}},
	{"lab/midstream/client.pcap", "mid-stream at the receiver", []string{"scale-unknown info/high", "scale-unknown info/medium"}},
	{"synthetic/midstream-scaled.pcap", "mid-stream bound of shift 3", []string{"scale-unknown info/high", "scale-unknown info/medium"}},

	// Windows stacks.
	{"synthetic/win-autotuning-normal.pcap", "windows at level normal", nil},
	{"synthetic/win-autotuning-restricted.pcap", "windows at level restricted", []string{"autotuning-level info/high"}},
	{"synthetic/win-autotuning-highlyrestricted.pcap", "windows at level highly restricted reaches its cap",
		[]string{"autotuning-level warn/high", "window-limited info/medium"}},
	{"synthetic/win-autotuning-experimental.pcap", "windows at level experimental", []string{"autotuning-level info/high"}},
	{"synthetic/win-autotuning-disabled.pcap", "windows with auto-tuning disabled, not the path",
		[]string{"autotuning-level warn/medium", "window-limited warn/medium"}},
	{"synthetic/win-tcpoptstrip.pcap", "six nops in a windows syn", []string{"window-limited info/medium", "wscale-stripped warn/high"}},
	{"synthetic/win-syn-retry-drops-ws.pcap", "third syn without ws answered",
		[]string{"slow-setup warn/high", "syn-options-changed warn/high", "window-limited warn/medium"}},

	// Protocol violations, one flow each.
	{"synthetic/malformed-options.pcap", "malformed options, shift 255, ws on data, unnegotiated sack and timestamps",
		[]string{"option-malformed warn/high", "option-malformed warn/high", "option-malformed warn/high", "sack-unnegotiated warn/medium",
			"timestamps-unnegotiated warn/medium", "wscale-invalid warn/high", "wscale-non-syn info/high"}},
	{"synthetic/port-reuse.pcap", "port reuse", nil},
	{"synthetic/simultaneous-open.pcap", "simultaneous open", nil},
	{"synthetic/ipv6-truncated-options.pcap", "options cut by the snaplen", nil},
}

func TestFixtureFindings(t *testing.T) {
	for _, tc := range fixtureFindings {
		t.Run(tc.name, func(t *testing.T) {
			_, found := evaluateCapture(t, tc.capture)
			want := tc.want
			if want == nil {
				want = []string{}
			}
			assert.Equal(t, want, summarize(found), tc.capture)
		})
	}
}

// TestEveryRuleHasPositiveAndNegativeFixtures keeps the table honest: each
// single-capture rule fires on some fixture and stays silent on others.
func TestEveryRuleHasPositiveAndNegativeFixtures(t *testing.T) {
	pos, neg := map[string]bool{}, map[string]bool{}
	for _, tc := range fixtureFindings {
		ids := map[string]bool{}
		for _, w := range tc.want {
			ids[strings.Fields(w)[0]] = true
		}
		for _, r := range Catalog() {
			if ids[r.ID] {
				pos[r.ID] = true
			} else {
				neg[r.ID] = true
			}
		}
	}
	for _, id := range []string{"wscale-stripped", "wscale-zeroed", "unscaled-window-enforced", "syn-proxy", "window-limited",
		"zero-window", "autotuning-level", "scale-unknown", "wscale-invalid", "wscale-non-syn", "option-malformed",
		"sack-unnegotiated", "timestamps-unnegotiated", "syn-options-changed", "sack-stripped", "timestamps-stripped", "mss-clamped",
		"wscale-declined", "slow-setup", "connection-reset"} {
		assert.True(t, pos[id], "%s: no fixture raises it", id)
		assert.True(t, neg[id], "%s: no fixture stays clear of it", id)
	}
}

// TestCleanCapturesRaiseNothingAboveInfo runs every capture of a clean
// scenario, and every format and link-layer variant of the clean matrix
// conversation.
func TestCleanCapturesRaiseNothingAboveInfo(t *testing.T) {
	clean := fixtureCaptures(t, "lab/*clean/*.pcap", "lab/nat/*.pcap", "lab/seq-offset/*.pcap",
		"synthetic/format-*", "synthetic/link-*", "synthetic/ipv6-ext-headers.pcap", "synthetic/win-autotuning-normal.pcap")
	for _, rel := range clean {
		t.Run(rel, func(t *testing.T) {
			_, found := evaluateCapture(t, rel)
			for _, ff := range found {
				for _, x := range ff {
					assert.Equal(t, Info, x.Severity, "%s: %s", x.ID, x.Summary)
				}
			}
		})
	}
}
