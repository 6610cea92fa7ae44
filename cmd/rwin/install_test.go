package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/fixtures"
)

// TestMakeInstall runs make install into a staging directory, as a
// package build would (DESTDIR, PREFIX), and runs the installed rwin.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds rwin through make")
	}
	makeBin, err := exec.LookPath("make")
	if err != nil {
		fixtures.SkipUnlessCI(t, "make not installed: %v", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		fixtures.SkipUnlessCI(t, "go not on PATH: %v", err)
	}
	stage := t.TempDir()
	cmd := exec.Command(makeBin, "--no-print-directory", "-C", fixtures.Root(), "install",
		"DESTDIR="+stage, "PREFIX=/opt/rwin", "GO="+goBin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	bin := filepath.Join(stage, "opt", "rwin", "bin", "rwin")
	st, err := os.Stat(bin)
	require.NoError(t, err, "make install must put rwin in DESTDIR/PREFIX/bin")
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm())
	version, err := exec.Command(bin, "version").Output()
	require.NoError(t, err)
	assert.Regexp(t, `^rwin \S+\n$`, string(version))
}
