package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/fixtures"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// rwinRun runs the CLI in-process and returns exit code, stdout, stderr.
func rwinRun(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, bytes.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// fixtureCaptures lists every capture under fixtures/captures, relative to
// the fixtures directory.
func fixtureCaptures(t testing.TB) []string {
	t.Helper()
	var files []string
	root := filepath.Join(fixtures.Dir(), "captures")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(p); !d.IsDir() && (ext == ".pcap" || ext == ".pcapng") {
			rel, _ := filepath.Rel(fixtures.Dir(), p)
			files = append(files, rel)
		}
		return nil
	})
	require.NoError(t, err)
	return files
}

// goldenDir is absolute so tests may change directory.
var goldenDir = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Join(wd, "testdata", "golden")
}()

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file: run go test ./cmd/rwin -update")
	assert.Equal(t, string(want), got, "output differs from %s (go test ./cmd/rwin -update after checking the change)", path)
}

// TestGoldenOutputs replays every fixture capture through rwin read and
// compares the text (-v) and NDJSON outputs with the committed ones. File
// names are given relative to fixtures/ so the outputs do not depend on
// where the repository lives.
func TestGoldenOutputs(t *testing.T) {
	files := fixtureCaptures(t)
	require.NotEmpty(t, files, "no fixture captures under fixtures/captures")
	t.Chdir(fixtures.Dir())
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			_, text, _ := rwinRun(t, nil, "read", "-v", "--color", "never", f)
			_, nd, _ := rwinRun(t, nil, "read", "--format", "ndjson", f)
			golden(t, f+".txt", text)
			golden(t, f+".ndjson", nd)
			// NDJSON: every line is an object with the stable keys.
			lines := strings.Split(strings.TrimSpace(nd), "\n")
			for i, line := range lines {
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &m), "line %d", i+1)
				want := []string{"type", "file", "client", "server", "handshake", "syn", "synack", "negotiated", "rwin", "findings"}
				if i == len(lines)-1 {
					assert.Equal(t, "summary", m["type"])
					want = []string{"packets", "flows", "skipped", "errors", "files"}
				}
				for _, k := range want {
					assert.Contains(t, m, k, "line %d", i+1)
				}
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	notCapture := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notCapture, []byte("this is not a capture file\n"), 0o644))
	empty := filepath.Join(dir, "empty.pcap")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	tests := []struct {
		name     string
		args     []string
		code     int
		stderrRE string
	}{
		{"no arguments", []string{}, exitInput, "Usage"},
		{"unknown command", []string{"frobnicate"}, exitInput, `^rwin: unknown command "frobnicate" \(commands: read, live, diff, check, rules, version, help; rwin -h describes them\)\n$`},
		{"read without files", []string{"read"}, exitInput, `^rwin: read: no capture given: rwin read FILE\.\.\. \(a directory reads the captures in it; - is standard input\)\n$`},
		{"missing file", []string{"read", filepath.Join(dir, "nope.pcap")}, exitInput, `nope.pcap: no such file`},
		{"not a capture", []string{"read", notCapture}, exitInput, `notes.txt: offset 0: not a pcap, pcapng or Network Monitor file`},
		{"empty file", []string{"read", empty}, exitInput, `empty.pcap: .*cut short`},
		{"bad format", []string{"read", "--format", "xml", notCapture}, exitInput, `unknown format "xml"`},
		{"bad color", []string{"read", "--color", "pink", notCapture}, exitInput, `unknown --color "pink"`},
		{"bad filter", []string{"read", "-f", "tcp port banana", empty}, exitInput, `filter "tcp port banana"`},
		{"stdin twice", []string{"read", "-", "-"}, exitInput, `standard input \(-\) can be read only once`},
		{"filter twice", []string{"read", "-f", "tcp", empty, "port", "80"}, exitInput, "either with -f or after the files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := rwinRun(t, nil, tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Regexp(t, tc.stderrRE, stderr)
			assert.NotContains(t, stderr, "goroutine", "no stack traces")
			for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
				if strings.HasPrefix(line, "rwin: ") {
					assert.NotContains(t, line, "\n")
				}
			}
		})
	}
}

// TestCorpusNeverPanics reads every corpus file, including the corrupt
// ones, and checks the exit code says whether it could be read.
func TestCorpusNeverPanics(t *testing.T) {
	dir := fixtures.CorpusDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*", "*"))
	require.NoError(t, err)
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		t.Run(rel, func(t *testing.T) {
			code, out, stderr := rwinRun(t, nil, "read", "--format", "json", f)
			var doc runRecord
			require.NoError(t, json.Unmarshal([]byte(out), &doc), "output must be one JSON document")
			// libpcap/ holds the corrupt containers, and one sound ARCNET capture.
			if strings.HasPrefix(rel, "libpcap/") && !strings.Contains(rel, "arcnet") {
				assert.Equal(t, exitInput, code, "a corrupt container is an input error")
				assert.Regexp(t, `^rwin: .*`+regexpQuote(filepath.Base(f))+`: offset \d+: `, stderr)
				return
			}
			assert.Equal(t, exitOK, code, stderr)
			assert.Equal(t, 0, doc.Summary.Errors)
		})
	}
}

func regexpQuote(s string) string {
	r := strings.NewReplacer(".", `\.`, "-", `\-`)
	return r.Replace(s)
}

func TestStdinAndFilesAgree(t *testing.T) {
	files := fixtureCaptures(t)
	require.NotEmpty(t, files)
	path := filepath.Join(fixtures.Dir(), files[0])
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	_, fromFile, _ := rwinRun(t, nil, "read", "--format", "ndjson", path)
	_, fromStdin, _ := rwinRun(t, data, "read", "--format", "ndjson", "-")
	assert.Equal(t, strings.ReplaceAll(fromFile, path, "-"), fromStdin)
}

func TestFlagsAfterFilesAndTrailingFilter(t *testing.T) {
	requirePcap(t)
	files := fixtureCaptures(t)
	require.NotEmpty(t, files)
	path := filepath.Join(fixtures.Dir(), files[0])
	code, out, stderr := rwinRun(t, nil, "read", path, "--format", "ndjson", "tcp", "port", "1")
	require.Equal(t, exitOK, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 1, "no fixture uses port 1: only the summary remains")
	var sum summaryRecord
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &sum))
	assert.Equal(t, 0, sum.Flows)
	assert.Equal(t, sum.Packets, sum.Files[0].Filtered)
}

func TestColor(t *testing.T) {
	var buf bytes.Buffer
	on, err := colorWanted("auto", &buf)
	require.NoError(t, err)
	assert.False(t, on, "not a terminal: no color")
	on, _ = colorWanted("always", &buf)
	assert.True(t, on)
	t.Setenv("NO_COLOR", "1")
	on, _ = colorWanted("auto", os.Stdout)
	assert.False(t, on, "NO_COLOR disables auto")
}

// TestJSONDocumentIsTheEncodersText: --format json writes its document
// record by record; it must be the very text json.Encoder, indenting by
// two spaces, writes for the whole runRecord.
func TestJSONDocumentIsTheEncodersText(t *testing.T) {
	files := fixtureCaptures(t)
	for _, tc := range []struct {
		name  string
		files []string
	}{
		{"one capture", files[:1]},
		{"every fixture capture in one run", files},
		{"a capture without TCP", []string{"/dev/null"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			for _, f := range tc.files {
				if !filepath.IsAbs(f) {
					f = filepath.Join(fixtures.Dir(), f)
				}
				args = append(args, f)
			}
			_, out, _ := rwinRun(t, nil, append([]string{"read", "--format", "json"}, args...)...)
			var doc runRecord
			require.NoError(t, json.Unmarshal([]byte(out), &doc))
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			require.NoError(t, enc.Encode(doc))
			assert.Equal(t, want.String(), out)
		})
	}
}

// runRecord is the --format json document: every flow, then the summary.
type runRecord struct {
	Schema  int               `json:"schema"`
	Flows   []json.RawMessage `json:"flows"`
	Summary summaryRecord     `json:"summary"`
}
