package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
	"rwin/fixtures"
)

// requirePcap skips a test that needs libpcap in a build that has none
// (CGO_ENABLED=0 on Linux or macOS). A build with libpcap never skips
// here: its failures are failures.
func requirePcap(t *testing.T) {
	t.Helper()
	if _, err := capture.NewFilter("tcp", capture.LinkEthernet, 0); errors.Is(err, capture.ErrNoPcap) {
		t.Skipf("needs libpcap: %v", err)
	}
}

// requireLive skips t where this build has no live capture: a build
// without cgo on Linux or macOS, whose filters load libpcap at run time
// but whose live capture needs it linked in. Builds with libpcap never
// skip here.
func requireLive(t *testing.T) {
	t.Helper()
	if _, err := capture.Interfaces(); errors.Is(err, capture.ErrNoPcap) {
		t.Skipf("needs live capture: %v", err)
	}
}

// corpusCaptures lists the readable captures of the public corpus (those
// rwin reads to the end without an error), relative to it.
func corpusCaptures(t *testing.T) (string, []string) {
	t.Helper()
	dir := fixtures.CorpusDir(t)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(p); !d.IsDir() && (ext == ".pcap" || ext == ".pcapng") {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return dir, files
}

// ndjsonRecords reads file with `rwin read --format ndjson` and returns
// its records with the file name taken out, the exit code and stderr
// without the file name.
func ndjsonRecords(t *testing.T, file string) ([]map[string]any, int, string) {
	t.Helper()
	code, out, errOut := rwinRun(t, nil, "read", "--format", "ndjson", file)
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "%s", line)
		delete(m, "file")
		delete(m, "files")
		recs = append(recs, m)
	}
	return recs, code, strings.ReplaceAll(errOut, file, "FILE")
}

func TestCompressedCorpusReadsLikeTheOriginal(t *testing.T) {
	dir, files := corpusCaptures(t)
	tmp := t.TempDir()
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			orig := filepath.Join(dir, rel)
			raw, err := os.ReadFile(orig)
			require.NoError(t, err)
			want, wantCode, wantErr := ndjsonRecords(t, orig)
			for _, c := range []struct {
				ext      string
				compress func([]byte) []byte
			}{
				{".gz", gzipped},
				{".zst", zstded},
			} {
				name := filepath.Join(tmp, strings.ReplaceAll(rel, "/", "_")+c.ext)
				require.NoError(t, os.WriteFile(name, c.compress(raw), 0o644))
				got, code, gotErr := ndjsonRecords(t, name)
				assert.Equal(t, wantCode, code, c.ext)
				assert.Equal(t, want, got, c.ext)
				if wantErr == "" {
					assert.Empty(t, gotErr, c.ext)
				}
			}
		})
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zstded(b []byte) []byte {
	w, _ := zstd.NewWriter(nil)
	defer w.Close()
	return w.EncodeAll(b, nil)
}

func TestCompressedCaptureFromStdin(t *testing.T) {
	file := filepath.Join(fixtures.Dir(), "captures", "lab", "rdp-ws-strip-syn", "server.pcap")
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	code, plain, _ := rwinRun(t, raw, "read", "--format", "ndjson", "-")
	require.Equal(t, 0, code)
	for _, in := range [][]byte{gzipped(raw), zstded(raw)} {
		code, got, errOut := rwinRun(t, in, "read", "--format", "ndjson", "-")
		assert.Equal(t, 0, code, errOut)
		assert.Equal(t, plain, got)
	}
}

// netmonView is what must survive a conversion to Network Monitor: the
// flows, their handshakes and negotiation, windows and findings. Times
// and RTTs may not: Network Monitor 1.x keeps milliseconds, 2.x
// microseconds.
func netmonView(recs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["type"] != "flow" {
			continue
		}
		v := map[string]any{}
		for _, k := range []string{"client", "server", "service", "handshake", "negotiated", "first_packet", "last_packet"} {
			v[k] = r[k]
		}
		if rw, ok := r["rwin"].(map[string]any); ok {
			v["rwin"] = rw
		}
		var ids []string
		if fs, ok := r["findings"].([]any); ok {
			for _, f := range fs {
				ids = append(ids, f.(map[string]any)["id"].(string))
			}
		}
		v["findings"] = ids
		out = append(out, v)
	}
	return out
}

// netmonLosses are conversions that lose what rwin needs, on editcap's
// side or by the format's limits, with the reason.
var netmonLosses = map[string]string{
	"pcapplusplus/pcapng-example.pcapng netmon2": "mixed link types: editcap writes the Linux cooked frames as Ethernet (tshark then sees one flow, not 15)",
	"pcapplusplus/pcapng-example.pcapng netmon1": "mixed link types: editcap writes the Linux cooked frames as Ethernet",
	"tcpdump/tcp-auth-heapoverflow.pcap netmon1": "Network Monitor 1.x keeps wire lengths in 16 bits; this frame's is 262144 (editcap writes 0)",
}

func TestNetmonCopiesOfTheCorpusReadLikeTheOriginals(t *testing.T) {
	editcap, err := exec.LookPath("editcap")
	if err != nil {
		fixtures.SkipUnlessCI(t, "editcap (Debian: wireshark-common) writes the Network Monitor files: %v", err)
	}
	dir, files := corpusCaptures(t)
	tmp := t.TempDir()
	converted := 0
	for _, rel := range files {
		for _, format := range []string{"netmon2", "netmon1"} {
			name := filepath.Join(tmp, strings.ReplaceAll(rel, "/", "_")+"."+format+".cap")
			if err := exec.Command(editcap, "-F", format, filepath.Join(dir, rel), name).Run(); err != nil {
				// editcap writes only Ethernet, Token Ring, FDDI, ATM and
				// 802.11 to Network Monitor files, and stops at damage.
				continue
			}
			converted++
			t.Run(rel+" as "+format, func(t *testing.T) {
				if why, ok := netmonLosses[rel+" "+format]; ok {
					t.Skip(why)
				}
				want, wantCode, _ := ndjsonRecords(t, filepath.Join(dir, rel))
				got, code, errOut := ndjsonRecords(t, name)
				assert.Equal(t, wantCode, code, errOut)
				assert.Equal(t, netmonView(want), netmonView(got))
			})
		}
	}
	assert.Greater(t, converted, 100, "Ethernet captures of the corpus converted")
}
