package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
	"rwin/fixtures"
)

// labCapture is a lab capture's path relative to fixtures/, for tests
// that run in that directory so messages quote short, stable names.
func labCapture(t *testing.T, scenario, end string) string {
	t.Helper()
	rel := filepath.Join("captures", "lab", scenario, end+".pcap")
	if _, err := os.Stat(filepath.Join(fixtures.Dir(), rel)); err != nil {
		fixtures.SkipUnlessCI(t, "lab capture %s missing: %v", rel, err)
	}
	return rel
}

// TestArgumentMistakes runs the mistakes people make with rwin's arguments
// and checks each is answered by exactly one line naming the fix, with
// exit status 2 and nothing on standard output.
func TestArgumentMistakes(t *testing.T) {
	t.Chdir(fixtures.Dir())
	client := labCapture(t, "clean", "client")
	server := labCapture(t, "clean", "server")
	dir := filepath.Dir(client)
	empty := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		pcap    bool // the message depends on libpcap telling a filter from a typo
		message string
	}{
		{"filter quoted before the capture", []string{"read", "tcp port 3389", client}, false,
			`read: "tcp port 3389" is a filter, not a capture: filters go after the captures: rwin read ` + client + ` 'tcp port 3389'`},
		{"filter words before the capture", []string{"read", "tcp", "port", "3389", client}, false,
			`read: "tcp port 3389" is a filter, not a capture: filters go after the captures: rwin read ` + client + ` 'tcp port 3389'`},
		{"filter between two captures", []string{"read", client, "port", "5001", server}, false,
			`read: "port 5001" is a filter, not a capture: filters go after the captures: rwin read ` + client + " " + server + ` 'port 5001'`},
		{"filter and no capture", []string{"read", "tcp port 3389"}, false,
			`read: no capture given, only the filter "tcp port 3389": name the captures before it: rwin read FILE... 'tcp port 3389'`},
		{"mistyped name before a capture", []string{"read", "clinet", client}, true,
			`read: clinet: no such file, and not a BPF filter either`},
		{"read with nothing to read", []string{"read"}, false,
			`read: no capture given: rwin read FILE... (a directory reads the captures in it; - is standard input)`},
		{"read a directory without captures", []string{"read", empty}, false,
			`read: ` + empty + `: no captures (.pcap, .pcapng, .cap) in this directory`},
		{"read an unknown flag", []string{"read", "-c", "10", client}, false,
			`read: flag provided but not defined: -c (rwin read -h lists the flags)`},
		{"diff with one capture", []string{"diff", client}, false,
			`diff: needs two captures of the same traffic, one from each capture point, got 1: rwin diff A.pcap B.pcap`},
		{"diff with three captures", []string{"diff", client, server, client}, false,
			`diff: needs two captures of the same traffic, one from each capture point, got 3: rwin diff A.pcap B.pcap`},
		{"diff with a directory of two captures", []string{"diff", dir, client}, false,
			`diff: ` + dir + ` is a directory: diff compares two capture files, e.g. rwin diff ` + client + " " + server},
		{"diff with a directory of none", []string{"diff", empty, client}, false,
			`diff: ` + empty + ` is a directory: diff compares two capture files: rwin diff A.pcap B.pcap`},
		{"check without a policy", []string{"check", client}, false,
			`check: no policy given: rwin check --policy FILE CAPTURE|DIR... (README.md, "CI: rwin check", describes the format)`},
		{"check without captures", []string{"check", "--policy", "policy.json"}, false,
			`check: no captures given: rwin check --policy policy.json CAPTURE|DIR...`},
		{"flag needing a value", []string{"diff", client, server, "--format"}, false,
			`diff: flag needs an argument: -format (rwin diff -h lists the flags)`},
		{"rules with a mistyped ID", []string{"rules", "wscale-strip"}, false,
			`rules: unknown rule "wscale-strip"; did you mean wscale-stripped?`},
		{"rules with a word of several IDs", []string{"rules", "zero"}, false,
			`rules: unknown rule "zero"; did you mean wscale-zeroed, zero-window?`},
		{"rules with an unknown ID", []string{"rules", "nothing-of-the-kind"}, false,
			`rules: unknown rule "nothing-of-the-kind" (rwin rules lists them)`},
		{"rules with two IDs", []string{"rules", "wscale-stripped", "syn-proxy"}, false,
			`rules: one rule ID at a time, got 2: rwin rules wscale-stripped`},
		{"help for an unknown command", []string{"help", "raed"}, false,
			`help: unknown command "raed" (commands: read, live, diff, check, rules, version, help)`},
		{"unknown command", []string{"raed", client}, false,
			`unknown command "raed" (commands: read, live, diff, check, rules, version, help; rwin -h describes them)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.pcap {
				requirePcap(t)
			}
			code, stdout, stderr := rwinRun(t, nil, tc.args...)
			assert.Equal(t, exitInput, code)
			assert.Empty(t, stdout)
			assert.Equal(t, "rwin: "+tc.message+"\n", stderr)
		})
	}
}

// TestLiveWithoutInterfaceNamesThem checks that rwin live without -i
// lists the interfaces there are, in the one line of its error.
func TestLiveWithoutInterfaceNamesThem(t *testing.T) {
	requireLive(t)
	ifs, err := capture.Interfaces()
	require.NoError(t, err)
	require.NotEmpty(t, ifs, "a machine with libpcap has at least a loopback interface")
	names := make([]string, len(ifs))
	for i, f := range ifs {
		names[i] = f.Name
	}
	code, stdout, stderr := rwinRun(t, nil, "live", "tcp", "port", "3389")
	assert.Equal(t, exitInput, code)
	assert.Empty(t, stdout)
	assert.Equal(t, "rwin: live: no interface given: name one with -i (interfaces: "+strings.Join(names, ", ")+")\n", stderr)
}

// TestHelp checks that -h, rwin help CMD and rwin -h print help on
// standard output and succeed, and that rwin help CMD is rwin CMD -h.
func TestHelp(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			code, viaHelp, stderr := rwinRun(t, nil, "help", c.name)
			require.Equal(t, exitOK, code, stderr)
			assert.Empty(t, stderr)
			assert.True(t, strings.HasPrefix(viaHelp, "Usage: rwin "+c.name), viaHelp)
			assert.Contains(t, viaHelp, "\nExamples:\n  rwin "+c.name)
			if c.name == "version" || c.name == "help" {
				return
			}
			code, viaFlag, stderr := rwinRun(t, nil, c.name, "-h")
			require.Equal(t, exitOK, code, stderr)
			assert.Equal(t, viaHelp, viaFlag)
			assert.Contains(t, viaFlag, "\nFlags:\n")
		})
	}
	for _, args := range [][]string{{"-h"}, {"help"}, {"--help"}} {
		code, out, stderr := rwinRun(t, nil, args...)
		require.Equal(t, exitOK, code, stderr)
		for _, c := range commands {
			assert.Contains(t, out, "\n  rwin "+c.name+" ", "rwin %s lists %s", args[0], c.name)
		}
	}
}
