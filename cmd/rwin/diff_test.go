package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/cmd/rwin/report"
	"rwin/fixtures"
)

// labEnds returns the two captures of a lab recording, skipping (or in CI
// failing) when the lab has not recorded it.
func labEnds(t *testing.T, scenario string) (client, server string) {
	t.Helper()
	dir := filepath.Join(fixtures.Dir(), "captures", "lab", scenario)
	client, server = filepath.Join(dir, "client.pcap"), filepath.Join(dir, "server.pcap")
	for _, f := range []string{client, server} {
		if _, err := os.Stat(f); err != nil {
			fixtures.SkipUnlessCI(t, "lab recording %s is missing: %v", scenario, err)
		}
	}
	return client, server
}

// diffJSON runs rwin diff --format json and decodes its document.
func diffJSON(t *testing.T, a, b string) (report.DiffDocument, string) {
	t.Helper()
	code, out, stderr := rwinRun(t, nil, "diff", "--format", "json", a, b)
	require.Equal(t, exitOK, code, stderr)
	var doc report.DiffDocument
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	return doc, stderr
}

func findingIDs(r *report.DiffPairRecord) []string {
	ids := []string{}
	for _, f := range r.Findings {
		ids = append(ids, f.ID)
	}
	slices.Sort(ids)
	return ids
}

func hsOption(h *report.HSDiffRecord, name string) *report.OptionDiffRecord {
	if h == nil {
		return nil
	}
	for i := range h.Options {
		if h.Options[i].Option == name {
			return &h.Options[i]
		}
	}
	return nil
}

// TestDiffLabScenarios diffs the two ends of every lab recording: the
// client's capture as A, the server's as B. Each scenario lists the
// findings its path must produce, and checks the facts behind them.
func TestDiffLabScenarios(t *testing.T) {
	type pair = report.DiffPairRecord
	c2s, s2c := "client-to-server", "server-to-client"
	unscaledFirewall := func(t *testing.T, p *pair) {
		d := p.Directions[s2c]
		assert.NotZero(t, d.Unscaled.BeyondLost)
		assert.Equal(t, d.OnlyData["b"], d.Unscaled.BeyondLost, "every lost segment ended beyond the unscaled window")
		assert.Zero(t, d.Unscaled.WithinLost)
		assert.Equal(t, "b", *d.Upstream)
		assert.Equal(t, "high", p.Findings[0].Confidence, "no full-size segment fits the unscaled window: an MTU black hole looks alike")
	}
	wsStrippedFromSYN := func(t *testing.T, p *pair) {
		o := hsOption(p.Handshake["syn"], "ws")
		require.NotNil(t, o)
		assert.Equal(t, "removed", o.Change)
		assert.True(t, o.NOPs, "TCPOPTSTRIP writes NOPs")
		assert.Equal(t, "a", p.Handshake["syn"].SentIn)
	}
	clientBelieves8MiB := func(t *testing.T, p *pair) {
		c := p.RWIN["client"]
		require.True(t, c.SidesKnown)
		assert.Equal(t, "a", c.Grants.Capture)
		assert.Equal(t, uint64(65535), *c.Grants.Median, "the client grants its unscaled 64 KiB")
		assert.Greater(t, *c.Believed.Median, uint64(8<<20)-256, "the server reads it as 8 MiB")
	}
	tests := map[string]struct {
		findings []string
		check    func(t *testing.T, p *pair)
	}{
		"clean":         {},
		"rdp-clean":     {},
		"smb-clean":     {},
		"server-ws-off": {},
		"small-rcvbuf":  {},
		// A token bucket's drops are loss on the path, not an unscaled
		// window: almost all lost segments lay beyond the unscaled edge
		// only because nearly all data did.
		"tbf-bottleneck":         {findings: []string{"path-drops-segments"}},
		"midstream":              {check: func(t *testing.T, p *pair) { assert.Nil(t, p.Handshake["syn"]) }},
		"fw-unscaled-window":     {findings: []string{"path-enforces-unscaled-window"}, check: unscaledFirewall},
		"rdp-fw-unscaled-window": {findings: []string{"path-enforces-unscaled-window"}, check: unscaledFirewall},
		"smb-fw-unscaled-window": {findings: []string{"path-enforces-unscaled-window"}, check: unscaledFirewall},
		"fw-unscaled-window-2seg": {findings: []string{"path-enforces-unscaled-window"}, check: func(t *testing.T, p *pair) {
			d := p.Directions[s2c]
			assert.NotZero(t, d.Unscaled.BeyondLost)
			assert.Equal(t, d.Unscaled.BeyondSent, d.Unscaled.BeyondLost)
			assert.Zero(t, d.Unscaled.WithinLost)
			assert.NotZero(t, d.Unscaled.WithinSent, "a window field of shift 2 holds full-size segments")
			assert.Equal(t, d.OnlyData["b"], d.Unscaled.BeyondLost+d.Unscaled.BetweenLost,
				"every lost segment ended past the edge the server's end had seen")
			assert.Equal(t, "proven", p.Findings[0].Confidence, "full-size segments arrived within the edge: not an MTU black hole")
			c := p.RWIN["client"].Grants
			assert.Equal(t, uint8(2), *c.Shift, "a 128 KiB locked buffer announces shift 2")
			assert.GreaterOrEqual(t, *c.RawMin, uint16(2*1448), "every window field holds two full-size segments")
		}},
		"ws-strip-syn":     {findings: []string{"path-strips-option"}, check: wsStrippedFromSYN},
		"ws-strip-syn-v6":  {findings: []string{"path-strips-option"}, check: wsStrippedFromSYN},
		"rdp-ws-strip-syn": {findings: []string{"path-strips-option"}, check: wsStrippedFromSYN},
		"smb-ws-strip-syn": {findings: []string{"path-strips-option"}, check: wsStrippedFromSYN},
		"ws-strip-synack": {findings: []string{"path-strips-option"}, check: func(t *testing.T, p *pair) {
			o := hsOption(p.Handshake["synack"], "ws")
			require.NotNil(t, o)
			assert.True(t, o.NOPs)
			assert.Equal(t, "b", p.Handshake["synack"].SentIn)
			clientBelieves8MiB(t, p)
		}},
		"ws-remove-synack": {findings: []string{"path-strips-option"}, check: func(t *testing.T, p *pair) {
			o := hsOption(p.Handshake["synack"], "ws")
			require.NotNil(t, o)
			assert.False(t, o.NOPs, "removed and repacked, no NOPs")
			clientBelieves8MiB(t, p)
		}},
		"ws-zero-syn": {findings: []string{"path-rewrites-wscale"}, check: func(t *testing.T, p *pair) {
			o := hsOption(p.Handshake["syn"], "ws")
			require.NotNil(t, o)
			assert.Equal(t, uint32(7), *o.Sent)
			assert.Equal(t, uint32(0), *o.Received)
			c := p.RWIN["client"]
			assert.Greater(t, *c.Grants.Median, 100**c.Believed.Median, "the server reads the client's windows 128 times too small")
		}},
		"ws-zero-synack": {findings: []string{"path-rewrites-wscale"}, check: func(t *testing.T, p *pair) {
			s := p.RWIN["server"]
			assert.Equal(t, "b", s.Grants.Capture)
			assert.Greater(t, *s.Grants.Median, 100**s.Believed.Median, "the client reads the server's windows 128 times too small")
		}},
		"sack-strip": {findings: []string{"path-strips-option"}, check: func(t *testing.T, p *pair) {
			assert.NotNil(t, hsOption(p.Handshake["syn"], "sok"))
		}},
		"ts-strip": {findings: []string{"path-strips-option"}, check: func(t *testing.T, p *pair) {
			assert.NotNil(t, hsOption(p.Handshake["syn"], "ts"))
			assert.NotContains(t, p.Pairing.Signals, "timestamps", "the flow ran without timestamps")
		}},
		"mss-clamp": {findings: []string{"path-clamps-mss", "path-clamps-mss"}, check: func(t *testing.T, p *pair) {
			o := hsOption(p.Handshake["syn"], "mss")
			require.NotNil(t, o)
			assert.Equal(t, uint32(1460), *o.Sent)
			assert.Equal(t, uint32(1360), *o.Received)
		}},
		"nat": {findings: []string{"path-translates-addresses"}, check: func(t *testing.T, p *pair) {
			assert.True(t, p.NAT)
			assert.NotEqual(t, p.A.Client, p.B.Client)
			assert.Equal(t, p.A.Server, p.B.Server)
			assert.NotContains(t, p.Pairing.Signals, "4-tuple")
		}},
		"seq-offset": {findings: []string{"path-rewrites-seq"}, check: func(t *testing.T, p *pair) {
			assert.NotZero(t, *p.Directions[c2s].SeqOffset)
			assert.Zero(t, *p.Directions[s2c].SeqOffset)
			assert.Zero(t, p.Directions[s2c].Only["a"]+p.Directions[s2c].Only["b"], "acks translated back still match")
		}},
		"syn-proxy": {findings: []string{"path-answers-handshake", "path-rewrites-seq", "path-rewrites-timestamps"},
			check: func(t *testing.T, p *pair) {
				assert.True(t, p.Handshake["synack"].Originated)
				assert.Greater(t, p.Handshake["synack"].TTLReceived, p.Handshake["synack"].TTLSent)
				clientBelieves8MiB(t, p)
			}},
	}
	dirs, err := filepath.Glob(filepath.Join(fixtures.Dir(), "captures", "lab", "*"))
	require.NoError(t, err)
	for _, d := range dirs {
		_, ok := tests[filepath.Base(d)]
		assert.True(t, ok, "lab scenario %s has no expectations here: add it", filepath.Base(d))
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			client, server := labEnds(t, name)
			doc, _ := diffJSON(t, client, server)
			require.Len(t, doc.Pairs, 1)
			assert.Empty(t, doc.Unpaired)
			p := &doc.Pairs[0]
			assert.Equal(t, "high", p.Pairing.Confidence)
			assert.Equal(t, "a", *p.ClientSide)
			want := slices.Clone(tc.findings)
			if want == nil {
				want = []string{}
			}
			slices.Sort(want)
			assert.Equal(t, want, findingIDs(p))
			for _, f := range p.Findings {
				require.NotEmpty(t, f.Evidence, f.ID)
				e := f.Evidence[0]
				assert.True(t, e.A != nil || e.B != nil, "%s: evidence names packets", f.ID)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

// TestDiffUnrelatedCaptures diffs ends of different lab recordings: the
// same addresses, ports and content, another connection. No pairing may
// be more than low, so no finding at all.
func TestDiffUnrelatedCaptures(t *testing.T) {
	for _, tc := range [][2]string{{"clean", "ws-strip-syn"}, {"fw-unscaled-window", "rdp-fw-unscaled-window"}, {"ts-strip", "sack-strip"}} {
		t.Run(tc[0]+" vs "+tc[1], func(t *testing.T) {
			a, _ := labEnds(t, tc[0])
			_, b := labEnds(t, tc[1])
			doc, _ := diffJSON(t, a, b)
			for _, p := range doc.Pairs {
				assert.Equal(t, "low", p.Pairing.Confidence)
				assert.Empty(t, p.Findings)
			}
			assert.Zero(t, doc.Summary.Findings["error"]+doc.Summary.Findings["warn"]+doc.Summary.Findings["info"])
		})
	}
}

// TestDiffGolden keeps the text and NDJSON reports of a few lab
// recordings; file names are relative to fixtures/.
func TestDiffGolden(t *testing.T) {
	for _, name := range []string{"ws-strip-syn", "ws-strip-synack", "fw-unscaled-window", "fw-unscaled-window-2seg", "syn-proxy", "nat"} {
		t.Run(name, func(t *testing.T) {
			labEnds(t, name)
			t.Chdir(fixtures.Dir())
			a := filepath.Join("captures", "lab", name, "client.pcap")
			b := filepath.Join("captures", "lab", name, "server.pcap")
			code, text, stderr := rwinRun(t, nil, "diff", "--color", "never", a, b)
			require.Equal(t, exitOK, code, stderr)
			_, nd, _ := rwinRun(t, nil, "diff", "--format", "ndjson", a, b)
			golden(t, filepath.Join("diff", name+".txt"), text)
			golden(t, filepath.Join("diff", name+".ndjson"), nd)
			lines := strings.Split(strings.TrimSpace(nd), "\n")
			for i, line := range lines {
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &m), "line %d", i+1)
				assert.Equal(t, float64(schemaVersion), m["schema"])
				if i == len(lines)-1 {
					assert.Equal(t, "diff-summary", m["type"])
					continue
				}
				assert.Contains(t, []any{"pair", "unpaired"}, m["type"])
			}
		})
	}
}

func TestDiffErrors(t *testing.T) {
	dir := t.TempDir()
	notCapture := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notCapture, []byte("this is not a capture file\n"), 0o644))
	tests := []struct {
		name     string
		args     []string
		stderrRE string
	}{
		{"no captures", []string{"diff"}, `^rwin: diff: needs two captures of the same traffic, one from each capture point, got 0: rwin diff A.pcap B.pcap\n$`},
		{"one capture", []string{"diff", notCapture}, `^rwin: diff: needs two captures of the same traffic, one from each capture point, got 1: rwin diff A.pcap B.pcap\n$`},
		{"three captures", []string{"diff", notCapture, notCapture, notCapture}, `got 3: rwin diff A.pcap B.pcap\n$`},
		{"standard input", []string{"diff", "-", notCapture}, `standard input \(-\) cannot be one`},
		{"missing file", []string{"diff", filepath.Join(dir, "nope.pcap"), notCapture}, `nope.pcap: .*no such file`},
		{"not a capture", []string{"diff", notCapture, notCapture}, `notes.txt: offset 0: not a pcap, pcapng or Network Monitor file`},
		{"bad format", []string{"diff", "--format", "xml", notCapture, notCapture}, `unknown format "xml"`},
		{"bad color", []string{"diff", "--color", "pink", notCapture, notCapture}, `unknown --color "pink"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := rwinRun(t, nil, tc.args...)
			assert.Equal(t, exitInput, code)
			assert.Empty(t, out)
			assert.Regexp(t, tc.stderrRE, stderr)
			assert.NotContains(t, stderr, "goroutine", "no stack traces")
		})
	}
}

// TestDiffCutShortCapture diffs a capture whose last record is cut: the
// report covers what was read, and the exit code says the input was bad.
func TestDiffCutShortCapture(t *testing.T) {
	client, server := labEnds(t, "clean")
	data, err := os.ReadFile(server)
	require.NoError(t, err)
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	require.NoError(t, os.WriteFile(cut, data[:len(data)*2/3], 0o644))
	code, out, stderr := rwinRun(t, nil, "diff", "--format", "json", client, cut)
	assert.Equal(t, exitInput, code)
	assert.Contains(t, stderr, "cut short")
	var doc report.DiffDocument
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	require.Len(t, doc.Pairs, 1, "the part read still pairs")
	assert.True(t, doc.Summary.Files[1].CutShort)
}
