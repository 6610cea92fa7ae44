package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/cmd/rwin/report"
	"rwin/fixtures"
)

// deliberatelyCutShort is the fixture that ends inside a record: check
// reports it as an input error (exit 2), tested on its own below.
const deliberatelyCutShort = "truncated-record.pcap"

// checkableFixtures lists every fixture capture but the one cut short.
func checkableFixtures(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, f := range fixtureCaptures(t) {
		if filepath.Base(f) != deliberatelyCutShort {
			out = append(out, filepath.Join(fixtures.Dir(), f))
		}
	}
	if len(out) == 0 {
		fixtures.SkipUnlessCI(t, "no fixture captures under %s", fixtures.Dir())
	}
	return out
}

// TestProjectPolicyPassesOnItsFixtures is the project's own CI check: the
// example policy (fixtures/policy.json) states what every fixture must and
// must not raise, and must pass on all of them with every expectation
// matching some capture.
func TestProjectPolicyPassesOnItsFixtures(t *testing.T) {
	files := checkableFixtures(t)
	policy := filepath.Join(fixtures.Dir(), "policy.json")
	junit := filepath.Join(t.TempDir(), "junit.xml")

	code, out, stderr := rwinRun(t, nil, append([]string{"check", "--policy", policy, "--junit", junit}, files...)...)
	assert.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	assert.NotContains(t, out, "FAIL")
	assert.NotContains(t, out, "matched none of the captures")

	code, out, _ = rwinRun(t, nil, append([]string{"check", "--format", "json", "--policy", policy}, files...)...)
	require.Equal(t, exitOK, code)
	var doc report.CheckRecord
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.True(t, doc.OK)
	assert.Empty(t, doc.Unmatched, "every expectation of the policy must match a fixture")
	assert.Len(t, doc.Captures, len(files))

	b, err := os.ReadFile(junit)
	require.NoError(t, err)
	var suites report.JUnitSuites
	require.NoError(t, xml.Unmarshal(b, &suites))
	assert.Len(t, suites.Suites, len(files))
	assert.Zero(t, suites.Failures)
	assert.Zero(t, suites.Errors)
	assert.Greater(t, suites.Tests, len(files), "several checks per capture")
}

func TestPolicyThatMustFail(t *testing.T) {
	lab := filepath.Join(fixtures.Dir(), "captures", "lab")
	if _, err := os.Stat(lab); err != nil {
		fixtures.SkipUnlessCI(t, "no lab captures: %v", err)
	}
	junit := filepath.Join(t.TempDir(), "junit.xml")
	code, out, stderr := rwinRun(t, nil, "check", "--policy", filepath.Join("testdata", "policy", "must-fail.json"),
		"--junit", junit, filepath.Join(lab, "clean"), filepath.Join(lab, "syn-proxy"), filepath.Join(lab, "server-ws-off"))
	assert.Equal(t, exitFindings, code, stderr)
	assert.Empty(t, stderr)
	for _, want := range []string{
		"FAIL  " + filepath.Join(lab, "clean", "client.pcap"),
		"require syn-proxy: expect[0]",
		"forbid syn-proxy: flow 1 10.71.1.2:50000 → 10.71.2.2:5001: expect[1]",
		"findings: flow 1 10.71.1.2:50000 → 10.71.2.2:5001: wscale-declined (warn, medium confidence)",
		"evidence: packet 4: SYN-ACK: mss,sok,ts (no window scale)",
		"min-rwin: flow 1 10.71.1.2:50000 → 10.71.2.2:5001: client's largest window",
		"negotiate: flow 1 10.71.1.2:50000 → 10.71.2.2:5001: port 5001 must negotiate scaling; this flow did not",
		"check: 6 captures, 6 failed",
	} {
		assert.Contains(t, out, want)
	}

	b, err := os.ReadFile(junit)
	require.NoError(t, err)
	var suites report.JUnitSuites
	require.NoError(t, xml.Unmarshal(b, &suites))
	assert.Len(t, suites.Suites, 6)
	assert.Positive(t, suites.Failures)
	var failed []string
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				failed = append(failed, filepath.Base(filepath.Dir(s.Name))+"/"+filepath.Base(s.Name)+" "+c.Name)
			}
		}
	}
	assert.Contains(t, failed, "clean/client.pcap require syn-proxy")
	assert.Contains(t, failed, "syn-proxy/client.pcap forbid syn-proxy")
	assert.Contains(t, failed, "server-ws-off/server.pcap negotiate")
}

func TestCheckErrors(t *testing.T) {
	dir := t.TempDir()
	capture := filepath.Join(t.TempDir(), "x.pcap")
	require.NoError(t, os.WriteFile(capture, nil, 0o644))
	policy := func(name string) string { return filepath.Join("testdata", "policy", name) }
	good := filepath.Join(fixtures.Dir(), "policy.json")
	cutShort := filepath.Join(fixtures.Dir(), "captures", "synthetic", deliberatelyCutShort)
	tests := []struct {
		name     string
		args     []string
		stderrRE string
	}{
		{"no policy", []string{"check", capture}, `^rwin: check: no policy given: rwin check --policy FILE CAPTURE\|DIR\.\.\. `},
		{"no captures", []string{"check", "--policy", good}, `^rwin: check: no captures given: rwin check --policy .*policy.json CAPTURE\|DIR\.\.\.\n$`},
		{"missing policy file", []string{"check", "--policy", policy("nope.json"), capture}, `policy: invalid policy: .*nope.json: no such file`},
		{"unknown key", []string{"check", "--policy", policy("unknown-key.json"), capture}, `unknown-key.json: invalid policy: unknown field "requires"`},
		{"unknown rule", []string{"check", "--policy", policy("unknown-rule.json"), capture}, `ignore: unknown rule "wscale-strip"`},
		{"bad threshold", []string{"check", "--policy", policy("bad-threshold.json"), capture}, `min_rwin: -65536: want a positive number of bytes`},
		{"bad severity", []string{"check", "--policy", policy("bad-severity.json"), capture}, `fail_on: unknown level "sometimes"`},
		{"bad format", []string{"check", "--format", "xml", "--policy", good, capture}, `unknown format "xml"`},
		{"missing capture", []string{"check", "--policy", good, filepath.Join(dir, "nope.pcap")}, `nope.pcap: no such file`},
		{"directory without captures", []string{"check", "--policy", good, dir}, `no captures \(\.pcap, \.pcapng, \.cap\) in this directory`},
		{"not a capture", []string{"check", "--policy", good, capture}, `x.pcap: .*cut short`},
		{"capture cut short", []string{"check", "--policy", good, cutShort}, `truncated-record.pcap: .*cut short`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := rwinRun(t, nil, tc.args...)
			assert.Equal(t, exitInput, code)
			assert.Regexp(t, tc.stderrRE, stderr)
			for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
				if strings.HasPrefix(line, "rwin: ") {
					assert.NotContains(t, line, "goroutine")
				}
			}
		})
	}
}

func TestCheckWritesJUnitForUnreadableCaptures(t *testing.T) {
	cutShort := filepath.Join(fixtures.Dir(), "captures", "synthetic", deliberatelyCutShort)
	if _, err := os.Stat(cutShort); err != nil {
		fixtures.SkipUnlessCI(t, "fixture %s missing: %v", deliberatelyCutShort, err)
	}
	junit := filepath.Join(t.TempDir(), "junit.xml")
	code, _, _ := rwinRun(t, nil, "check", "--policy", filepath.Join(fixtures.Dir(), "policy.json"), "--junit", junit, cutShort)
	assert.Equal(t, exitInput, code)
	b, err := os.ReadFile(junit)
	require.NoError(t, err)
	var suites report.JUnitSuites
	require.NoError(t, xml.Unmarshal(b, &suites))
	require.Len(t, suites.Suites, 1)
	assert.Equal(t, 1, suites.Errors)
	assert.Equal(t, "read", suites.Suites[0].Cases[0].Name)
	require.NotNil(t, suites.Suites[0].Cases[0].Error)
}
