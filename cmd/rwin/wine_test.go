//go:build linux

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/fixtures"
)

// wineCommand finds Wine's 64-bit loader: wine64 on PATH, or where
// Debian's wine64 package puts it.
func wineCommand() (string, error) {
	for _, name := range []string{"wine64", "/usr/lib/wine/wine64", "wine"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return exec.LookPath("wine64")
}

// sortedLines returns the lines of s in order.
func sortedLines(s string) string {
	lines := strings.Split(s, "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestWindowsBinaryUnderWine runs rwin.exe (windows/amd64, no cgo) under
// Wine on the fixture captures and compares it with the Linux build: the
// same text and NDJSON, the same exit codes of check, and without Npcap
// the one-line advice to install it.
func TestWindowsBinaryUnderWine(t *testing.T) {
	wine, err := wineCommand()
	if err != nil {
		fixtures.SkipUnlessCI(t, "Wine (Debian: wine64) runs the Windows binary: %v", err)
	}
	mingw, err := exec.LookPath("x86_64-w64-mingw32-gcc")
	if err != nil {
		fixtures.SkipUnlessCI(t, "mingw-w64 (Debian: gcc-mingw-w64-x86-64-win32) builds Wine's missing bcryptprimitives.dll: %v", err)
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "rwin.exe")
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build for windows: %s", out)
	linux := rwinBinary(t)

	// A prefix of our own; wpcap=d hides Wine's built-in wpcap.dll (a
	// wrapper of the host's libpcap that lacks pcap_setdirection, which
	// gopacket must load), so this is Windows without Npcap.
	prefix := filepath.Join(dir, "prefix")
	env := append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=wpcap=d")
	started := time.Now()
	boot := exec.Command(wine, "wineboot", "--init")
	boot.Env = env
	out, err = boot.CombinedOutput()
	require.NoError(t, err, "wineboot: %s", out)
	t.Logf("Wine prefix created in %v", time.Since(started).Round(time.Millisecond))
	shim := filepath.Join(prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	if _, err := os.Stat(shim); err != nil {
		out, err := exec.Command(mingw, "-shared", "-O2", "-o", shim,
			filepath.Join("testdata", "wine", "bcryptprimitives.c"), "-lbcrypt").CombinedOutput()
		require.NoError(t, err, "mingw: %s", out)
	}

	run := func(bin string, args ...string) (int, string, string) {
		var cmd *exec.Cmd
		if bin == exe {
			cmd = exec.Command(wine, append([]string{exe}, args...)...)
			cmd.Env = env
		} else {
			cmd = exec.Command(bin, args...)
		}
		cmd.Dir = fixtures.Dir()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return code, stdout.String(), stderr.String()
	}

	files := fixtureCaptures(t)
	require.NotEmpty(t, files)
	for _, format := range []string{"text", "ndjson"} {
		t.Run("read "+format, func(t *testing.T) {
			args := append([]string{"read", "--format", format}, files...)
			wantCode, want, _ := run(linux, args...)
			code, got, errOut := run(exe, args...)
			assert.Equal(t, wantCode, code, errOut)
			if format == "ndjson" {
				// Records stream as each file's flows finish, in the order
				// the parallel readers get there, on Linux as well.
				want, got = sortedLines(want), sortedLines(got)
			}
			assert.Equal(t, want, got)
		})
	}
	t.Run("check exits as on linux", func(t *testing.T) {
		for _, policy := range []string{"policy.json"} {
			wantCode, _, _ := run(linux, "check", "--policy", policy, filepath.Join("captures", "lab"))
			code, _, errOut := run(exe, "check", "--policy", policy, filepath.Join("captures", "lab"))
			assert.Equal(t, wantCode, code, errOut)
		}
	})
	t.Run("live without npcap says to install it", func(t *testing.T) {
		code, _, errOut := run(exe, "live", "-D")
		assert.Equal(t, 2, code)
		assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		assert.Contains(t, errOut, "Npcap is not installed")
		assert.Contains(t, errOut, "install it from https://npcap.com")
	})
	t.Logf("Wine runs took %v in all", time.Since(started).Round(time.Millisecond))
}
