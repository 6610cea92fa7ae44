package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/fixtures"
)

// The files of cmd/rwin/deploy/ are checked by the tools that will read them.

func TestAlertRulesPassPromtool(t *testing.T) {
	promtool := requireTool(t, "promtool", "to check the example alert rules")
	dir := filepath.Join(fixtures.Root(), "cmd", "rwin", "deploy", "prometheus")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"rules are valid", []string{"check", "rules", "rwin-alerts.yml"}, "SUCCESS: 5 rules found"},
		{"alerts fire when they should and only then", []string{"test", "rules", "rwin-alerts.test.yml"}, "SUCCESS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(promtool, tc.args...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "promtool %s: %s", strings.Join(tc.args, " "), out)
			assert.Contains(t, string(out), tc.want)
		})
	}
}

// TestSystemdUnitVerifies runs systemd-analyze verify on an instance of
// the unit whose ExecStart names a built rwin (verify checks that the
// command exists), and requires it to say nothing: an unknown or
// misspelt directive is only a warning to systemd.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze", "to verify the systemd unit")
	unit, err := os.ReadFile(filepath.Join(fixtures.Root(), "cmd", "rwin", "deploy", "systemd", "rwin-live@.service"))
	require.NoError(t, err)
	require.Contains(t, string(unit), "ExecStart=/usr/local/bin/rwin live ")
	bin := rwinBinary(t)
	inst := filepath.Join(t.TempDir(), "rwin-live@eth0.service")
	require.NoError(t, os.WriteFile(inst, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/rwin", bin)), 0o644))
	out, err := exec.Command(analyze, "verify", inst).CombinedOutput()
	require.NoError(t, err, "systemd-analyze verify: %s", out)
	assert.Empty(t, string(out))

	for _, want := range []string{"DynamicUser=yes", "AmbientCapabilities=CAP_NET_RAW\n", "CapabilityBoundingSet=CAP_NET_RAW\n",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ExecReload=/bin/kill -HUP $MAINPID"} {
		assert.Contains(t, string(unit), want)
	}
	assert.NotContains(t, string(unit), "CAP_NET_ADMIN", "CAP_NET_RAW alone captures (TestLiveNeedsOnlyNetRaw)")
}

// TestLogrotateExampleParses reads the example with logrotate's debug
// mode, which parses it and says what it would do without doing it.
func TestLogrotateExampleParses(t *testing.T) {
	logrotate := requireTool(t, "logrotate", "to check the example logrotate file")
	conf := filepath.Join(fixtures.Root(), "cmd", "rwin", "deploy", "logrotate", "rwin")
	out, err := exec.Command(logrotate, "-d", "-s", filepath.Join(t.TempDir(), "state"), conf).CombinedOutput()
	require.NoError(t, err, "logrotate -d: %s", out)
	assert.Contains(t, string(out), "rotating pattern: /var/log/rwin/*.ndjson  after 1 days (14 rotations)")
	assert.NotContains(t, string(out), "error")
}
