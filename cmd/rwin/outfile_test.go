//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/fixtures"
)

func TestCreateOutputNeverClobbers(t *testing.T) {
	const old = "precious\n"
	for _, c := range []struct {
		name      string
		setup     func(t *testing.T, dir string) string // returns the path to write
		overwrite bool
		errRE     string // "" when the write must succeed
		untouched string // a file that must still hold old
	}{
		{"new file is created", func(t *testing.T, dir string) string { return filepath.Join(dir, "new.xml") }, false, "", ""},
		{"existing file refused", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "report.xml")
			require.NoError(t, os.WriteFile(p, []byte(old), 0o644))
			return p
		}, false, `report.xml: already exists; rwin does not overwrite a file`, "report.xml"},
		{"existing file replaced with overwrite", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "report.xml")
			require.NoError(t, os.WriteFile(p, []byte(old+old+old), 0o644))
			return p
		}, true, "", ""},
		{"link to a file refused even with overwrite", func(t *testing.T, dir string) string {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "shadow"), []byte(old), 0o644))
			p := filepath.Join(dir, "report.xml")
			require.NoError(t, os.Symlink(filepath.Join(dir, "shadow"), p))
			return p
		}, true, `report.xml: is a symbolic link; rwin does not write through one`, "shadow"},
		{"dangling link not followed to create its target", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "report.xml")
			require.NoError(t, os.Symlink(filepath.Join(dir, "created-through-link"), p))
			return p
		}, true, `is a symbolic link`, ""},
		{"directory refused", func(t *testing.T, dir string) string { return dir }, true, `exists and is not a regular file`, ""},
		{"fifo written as a stream", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "pipe")
			require.NoError(t, syscall.Mkfifo(p, 0o600))
			go func() { // a reader, as a shell's >(…) would have
				b, _ := os.ReadFile(p)
				_ = b
			}()
			return p
		}, false, "", ""},
		{"/dev/null written as a stream", func(t *testing.T, dir string) string { return os.DevNull }, false, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := c.setup(t, dir)
			f, err := createOutput(path, 0o644, c.overwrite)
			if c.errRE != "" {
				require.Error(t, err)
				assert.Regexp(t, c.errRE, err.Error())
			} else {
				require.NoError(t, err)
				_, err = f.WriteString("new\n")
				require.NoError(t, err)
				require.NoError(t, f.Close())
				if st, _ := os.Stat(path); st.Mode().IsRegular() {
					b, err := os.ReadFile(path)
					require.NoError(t, err)
					assert.Equal(t, "new\n", string(b), "the old content is gone, not left after the new")
				}
			}
			if c.untouched != "" {
				b, err := os.ReadFile(filepath.Join(dir, c.untouched))
				require.NoError(t, err)
				assert.Equal(t, old, string(b))
			}
			assert.NoFileExists(t, filepath.Join(dir, "created-through-link"))
		})
	}
}

// TestCheckJUnitNeverClobbers: --junit refuses an existing report before
// reading any capture, unless --force, and never writes through a link.
func TestCheckJUnitNeverClobbers(t *testing.T) {
	capture := fixtureCapture(t, "port-reuse.pcap")
	policy := filepath.Join(fixtures.Dir(), "policy.json")
	dir := t.TempDir()
	report := filepath.Join(dir, "junit.xml")
	require.NoError(t, os.WriteFile(report, []byte("old"), 0o644))

	code, out, stderr := rwinRun(t, nil, "check", "--policy", policy, "--junit", report, capture)
	assert.Equal(t, exitInput, code)
	assert.Empty(t, out, "refused before any capture was read")
	assert.Equal(t, "rwin: check: --junit "+report+": already exists; rwin does not overwrite a file (give --force to replace it)\n", stderr)

	code, _, _ = rwinRun(t, nil, "check", "--force", "--policy", policy, "--junit", report, capture)
	assert.Equal(t, exitOK, code)
	b, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Contains(t, string(b), "<testsuites")

	link := filepath.Join(dir, "link.xml")
	require.NoError(t, os.Symlink(report, link))
	code, _, stderr = rwinRun(t, nil, "check", "--force", "--policy", policy, "--junit", link, capture)
	assert.Equal(t, exitInput, code)
	assert.Contains(t, stderr, "is a symbolic link")
}

// TestReadOutputNeverClobbers: read -o (any format, the HTML report
// included) refuses an existing file unless --force, and never writes
// through a link.
func TestReadOutputNeverClobbers(t *testing.T) {
	capture := fixtureCapture(t, "port-reuse.pcap")
	dir := t.TempDir()
	report := filepath.Join(dir, "report.html")
	require.NoError(t, os.WriteFile(report, []byte("old"), 0o644))

	code, out, stderr := rwinRun(t, nil, "read", "--format", "html", "-o", report, capture)
	assert.Equal(t, exitInput, code)
	assert.Empty(t, out)
	assert.Equal(t, "rwin: read: -o "+report+": already exists; rwin does not overwrite a file (give --force to replace it)\n", stderr)
	b, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Equal(t, "old", string(b))

	code, _, _ = rwinRun(t, nil, "read", "--format", "html", "--force", "-o", report, capture)
	assert.Equal(t, exitOK, code)
	b, err = os.ReadFile(report)
	require.NoError(t, err)
	assert.Contains(t, string(b), "<html")

	link := filepath.Join(dir, "link.html")
	require.NoError(t, os.Symlink(report, link))
	code, _, stderr = rwinRun(t, nil, "read", "--force", "-o", link, capture)
	assert.Equal(t, exitInput, code)
	assert.Contains(t, stderr, "is a symbolic link")
}
