package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The golden files of this package are rewritten with -update. The flag is
// registered here only if another test file has not done so already.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
	}
}

func updatingGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// sourcesCorpusDir returns the shared public capture corpus, skipping the
// test when it is missing, except under CI=true, where a missing corpus is
// a failure.
func sourcesCorpusDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.tsv")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("corpus required under CI=true: %v", err)
		}
		t.Skipf("no capture corpus at %s: %v", dir, err)
	}
	return dir
}

// readPackets drains src, returning the packets (with Data copied) and the
// error that ended the stream.
func readPackets(t testing.TB, src Source) ([]Packet, error) {
	t.Helper()
	var pkts []Packet
	for {
		var p Packet
		err := src.Next(&p)
		if err != nil {
			return pkts, err
		}
		p.Data = slices.Clone(p.Data)
		if len(p.Data) == 0 {
			p.Data = nil // compare empty records by length alone
		}
		pkts = append(pkts, p)
		require.Less(t, len(pkts), 1<<20, "runaway source")
	}
}

func TestNewReaderRejectsWhatIsNotACapture(t *testing.T) {
	tests := []struct {
		name    string
		input   []byte
		kind    error
		message string
	}{
		{"empty file", nil, ErrTruncated, "x: offset 0: empty file: capture cut short"},
		{"three bytes", []byte{0xd4, 0xc3, 0xb2}, ErrTruncated, "x: offset 0: file header cut short (3 bytes): capture cut short"},
		{"text file", []byte("hello world\n"), ErrMalformed, "x: offset 0: not a pcap, pcapng or Network Monitor file (magic 0x68656c6c6f20776f726c640a): convert it with Wireshark's editcap: editcap -F pcapng FILE FILE.pcapng: malformed capture"},
		{"gzip header cut short", []byte{0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0}, ErrTruncated, "x: offset 0: gzip header cut short: capture cut short"},
		{"pcap header cut at 23 bytes", pcapFile(binary.LittleEndian, magicMicro, 1)[:23], ErrTruncated, "x: offset 0: pcap file header cut short (23 of 24 bytes): capture cut short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := NewReader(bytes.NewReader(tt.input), "x")
			require.Error(t, err)
			assert.Nil(t, src)
			assert.ErrorIs(t, err, tt.kind)
			assert.EqualError(t, err, tt.message)
		})
	}
}

func TestOpenNamesTheFileInErrors(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "cut.pcap")
	full := pcapFile(binary.LittleEndian, magicMicro, 1, pcapRec{sec: 1, data: make([]byte, 60)})
	require.NoError(t, os.WriteFile(name, full[:len(full)-10], 0o644))

	src, err := Open(name)
	require.NoError(t, err)
	defer src.Close()
	assert.Equal(t, name, src.Name())
	_, err = readPackets(t, src)
	assert.ErrorIs(t, err, ErrTruncated)
	assert.EqualError(t, err, name+": offset 24: packet 1: record data cut short (50 of 60 bytes): capture cut short")

	_, err = Open(filepath.Join(dir, "missing.pcap"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestCloseEndsTheSource(t *testing.T) {
	src, err := NewReader(bytes.NewReader(pcapFile(binary.LittleEndian, magicMicro, 1, pcapRec{data: []byte{1}})), "x")
	require.NoError(t, err)
	require.NoError(t, src.Close())
	var p Packet
	assert.Error(t, src.Next(&p))
}

// TestOpenReadsAPipeOnStdin runs this test binary as a child with a
// capture piped into its standard input, which cannot seek.
func TestOpenReadsAPipeOnStdin(t *testing.T) {
	if os.Getenv("RWIN_STDIN_CHILD") == "1" {
		src, err := Open("-")
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		pkts, err := readPackets(t, src)
		fmt.Printf("%s %d %v\n", src.Name(), len(pkts), err)
		return
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^TestOpenReadsAPipeOnStdin$")
	cmd.Env = append(os.Environ(), "RWIN_STDIN_CHILD=1")
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	var out bytes.Buffer
	cmd.Stdout = &out
	require.NoError(t, cmd.Start())
	_, err = in.Write(pcapngFile(binary.BigEndian,
		idb(binary.BigEndian, 1, 0),
		epb(binary.BigEndian, 0, 1, []byte{1, 2, 3}, 3),
		epb(binary.BigEndian, 0, 2, []byte{4, 5}, 2)))
	require.NoError(t, err)
	require.NoError(t, in.Close())
	require.NoError(t, cmd.Wait())
	assert.Contains(t, out.String(), "- 2 EOF\n")
}

// loopReader serves a capture's headers once and then its packet records
// over and over, so benchmarks and allocation tests never reach the end.
type loopReader struct {
	data    []byte
	pos     int
	restart int // offset of the first packet record
}

func (r *loopReader) Read(p []byte) (int, error) {
	if r.pos == len(r.data) {
		r.pos = r.restart
	}
	n := copy(p, r.data[r.pos:])
	r.pos += n
	return n, nil
}

// benchCaptures is an in-memory capture of n Ethernet frames of 1514, 814
// and 114 bytes in turn, in each format, with the offset of its first
// packet record.
func benchCaptures(n int) []struct {
	format string
	data   []byte
	first  int
} {
	o := binary.LittleEndian
	recs := make([]pcapRec, n)
	blocks := [][]byte{shb(o), idb(o, 1, 0)}
	for i := range n {
		d := bytesOf(1514-i%3*700, byte(i))
		recs[i] = pcapRec{sec: uint32(1_700_000_000 + i), frac: uint32(i), data: d}
		blocks = append(blocks, epb(o, 0, uint64(1_700_000_000_000_000+i), d, uint32(len(d))))
	}
	return []struct {
		format string
		data   []byte
		first  int
	}{
		{"pcap", pcapFile(o, magicMicro, 1, recs...), pcapFileHeaderLen},
		{"pcapng", slices.Concat(blocks...), int(offsetOf(blocks, 2))},
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	for _, c := range benchCaptures(64) {
		t.Run(c.format, func(t *testing.T) {
			src, err := NewReader(&loopReader{data: c.data, restart: c.first}, "x")
			require.NoError(t, err)
			var p Packet
			require.NoError(t, src.Next(&p)) // the first record sizes the buffer
			allocs := testing.AllocsPerRun(1000, func() {
				if err := src.Next(&p); err != nil {
					t.Fatal(err)
				}
			})
			assert.Zero(t, allocs, "allocations per packet")
		})
	}
}

func BenchmarkNext(b *testing.B) {
	const n = 10000
	for _, c := range benchCaptures(n) {
		b.Run(c.format, func(b *testing.B) {
			src, err := NewReader(&loopReader{data: c.data, restart: c.first}, "bench")
			require.NoError(b, err)
			b.SetBytes(int64(len(c.data)-c.first) / n)
			b.ReportAllocs()
			var p Packet
			for b.Loop() {
				if err := src.Next(&p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// corpusDigest summarises a capture as tshark and rwin should both see it:
// packet count, captured and wire bytes, and an FNV-64 digest over every
// packet's timestamp (ns), captured length and wire length.
type corpusDigest struct {
	packets, captured, wire int
	digest                  uint64
}

func (d corpusDigest) String() string {
	return fmt.Sprintf("%d\t%d\t%d\t%016x", d.packets, d.captured, d.wire, d.digest)
}

func digestOf(times []int64, caplens, wirelens []int) corpusDigest {
	h := fnv.New64a()
	d := corpusDigest{packets: len(times)}
	var b [24]byte
	for i := range times {
		binary.LittleEndian.PutUint64(b[0:], uint64(times[i]))
		binary.LittleEndian.PutUint64(b[8:], uint64(caplens[i]))
		binary.LittleEndian.PutUint64(b[16:], uint64(wirelens[i]))
		h.Write(b[:])
		d.captured += caplens[i]
		d.wire += wirelens[i]
	}
	d.digest = h.Sum64()
	return d
}

// tsharkDigest asks tshark for the packets of file.
func tsharkDigest(t *testing.T, file string) corpusDigest {
	t.Helper()
	out, err := exec.Command("tshark", "-r", file, "-T", "fields",
		"-e", "frame.time_epoch", "-e", "frame.cap_len", "-e", "frame.len").Output()
	require.NoError(t, err, "tshark -r %s", file)
	var times []int64
	var caplens, wirelens []int
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimSpace(line), "\t")
		require.Len(t, f, 3, "tshark line %q", line)
		times = append(times, parseEpoch(t, f[0]))
		c, err := strconv.Atoi(f[1])
		require.NoError(t, err)
		w, err := strconv.Atoi(f[2])
		require.NoError(t, err)
		caplens, wirelens = append(caplens, c), append(wirelens, w)
	}
	return digestOf(times, caplens, wirelens)
}

// parseEpoch turns tshark's "1725966494.956327000" into nanoseconds
// without a detour through float64.
func parseEpoch(t *testing.T, s string) int64 {
	sec, frac, _ := strings.Cut(s, ".")
	frac = (frac + "000000000")[:9]
	secs, err := strconv.ParseInt(sec, 10, 64)
	require.NoError(t, err, s)
	ns, err := strconv.ParseInt(frac, 10, 64)
	require.NoError(t, err, s)
	return secs*1e9 + ns
}

// corruptCorpus lists the corpus files that are damaged on purpose, with
// the error each must give.
var corruptCorpus = map[string]struct {
	kind    error
	message string
}{
	"libpcap/pcap-truncated-hdr-23.pcap": {ErrTruncated, "offset 0: pcap file header cut short (23 of 24 bytes)"},
	"libpcap/pcapng-block-len-not-mult4.pcapng": {ErrMalformed,
		"offset 28: interface description block: length 21 is not a multiple of 4"},
	// Its options overrun the block, and so does everything else: the
	// framing check sees the block's trailing length first.
	"libpcap/shb-option-too-long.pcapng": {ErrMalformed,
		"offset 0: section header block: trailing length 808464432 differs from leading length 52"},
}

// TestCorpusReadsLikeTshark reads every capture of the public corpus. The
// deliberately corrupt ones must fail with the right kind of error; every
// other one must read to io.EOF with the packet count of MANIFEST.tsv and
// the timestamps and lengths tshark reports, kept in
// testdata/sources/corpus-tshark.tsv (rewrite with -update, which needs
// tshark).
func TestCorpusReadsLikeTshark(t *testing.T) {
	dir := sourcesCorpusDir(t)
	manifest := readManifest(t, filepath.Join(dir, "MANIFEST.tsv"))
	goldenPath := filepath.Join("testdata", "sources", "corpus-tshark.tsv")

	var files []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".pcap", ".pcapng", ".cap":
			rel, err := filepath.Rel(dir, path)
			files = append(files, filepath.ToSlash(rel))
			return err
		}
		return nil
	}))
	require.NotEmpty(t, files)

	golden := map[string]string{}
	if !updatingGolden() {
		golden = readGolden(t, goldenPath, 1)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join(dir, filepath.FromSlash(file))
			src, err := Open(path)
			var pkts []Packet
			if err == nil {
				pkts, err = readPackets(t, src)
				assert.NoError(t, src.Close())
			}
			if want, ok := corruptCorpus[file]; ok {
				require.Error(t, err)
				assert.ErrorIs(t, err, want.kind)
				assert.Contains(t, err.Error(), path+": "+want.message)
				assert.NotContains(t, err.Error(), "\n")
				return
			}
			require.ErrorIs(t, err, io.EOF)
			count, ok := manifest[file]
			require.True(t, ok, "%s is not in MANIFEST.tsv", file)
			assert.Equal(t, count, len(pkts), "packet count")

			times := make([]int64, len(pkts))
			caplens, wirelens := make([]int, len(pkts)), make([]int, len(pkts))
			for i, p := range pkts {
				times[i], caplens[i], wirelens[i] = p.Time, len(p.Data), p.OrigLen
				assert.Equal(t, uint64(i+1), p.Index)
			}
			got := digestOf(times, caplens, wirelens).String()
			if updatingGolden() {
				golden[file] = tsharkDigest(t, path).String()
			}
			assert.Equal(t, golden[file], got, "packets, captured bytes, wire bytes, digest of times and lengths (tshark's in %s)", goldenPath)
		})
	}
	if updatingGolden() {
		writeGoldenTSV(t, goldenPath, "# file\tpackets\tcaptured bytes\twire bytes\tfnv64 of (time ns, caplen, wirelen) per packet, from tshark", golden)
	}
}

func readManifest(t *testing.T, path string) map[string]int {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var col int
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if col == 0 {
			col = slices.Index(fields, "packets")
			require.Positive(t, col, "MANIFEST.tsv has no packets column")
			continue
		}
		require.Greater(t, len(fields), col)
		n, err := strconv.Atoi(fields[col])
		require.NoError(t, err)
		counts[fields[0]] = n
	}
	require.NoError(t, sc.Err())
	return counts
}

// readGolden reads key\tvalue lines whose key is the first keyFields
// tab-separated fields.
func readGolden(t *testing.T, path string, keyFields int) map[string]string {
	data, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create it")
	golden := map[string]string{}
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.SplitN(strings.TrimSuffix(line, "\n"), "\t", keyFields+1)
		require.Len(t, fields, keyFields+1, "golden line %q", line)
		golden[strings.Join(fields[:keyFields], "\t")] = fields[keyFields]
	}
	return golden
}

// sortedLines renders a golden map as key\tvalue lines in key order.
func sortedLines(golden map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(golden)) {
		fmt.Fprintf(&b, "%s\t%s\n", k, golden[k])
	}
	return b.String()
}

// errorsIsAny is errors.Is over several targets, for fuzz invariants.
func errorsIsAny(err error, targets ...error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// shortReads wraps r so that each Read returns at most n bytes, with a
// read returning nothing (and no error) before each of them: what a slow
// pipe or a network stream can do.
type shortReads struct {
	r     io.Reader
	n     int
	empty bool
}

func (s *shortReads) Read(p []byte) (int, error) {
	if s.empty = !s.empty; s.empty {
		return 0, nil
	}
	return s.r.Read(p[:min(len(p), s.n)])
}

// TestReadersThatReturnLittle reads captures whose records straddle the
// input buffer, one of them larger than the buffer, through readers that
// return a few bytes at a time, or return the last bytes with io.EOF: the
// packets must be the same as from one whole read.
func TestReadersThatReturnLittle(t *testing.T) {
	o := binary.LittleEndian
	var recs []pcapRec
	blocks := [][]byte{shb(o), idb(o, 1, 0)}
	for i, n := range []int{60, 1514, readBufSize - 7, 100, readBufSize + 3000, 54, 3 * readBufSize, 66} {
		d := bytesOf(n, byte(i))
		recs = append(recs, pcapRec{sec: uint32(1_700_000_000 + i), frac: uint32(i), data: d})
		blocks = append(blocks, epb(o, 0, uint64(1_700_000_000_000_000+i), d, uint32(n)))
	}
	for _, c := range []struct {
		format string
		data   []byte
	}{
		{"pcap", pcapFile(o, magicMicro, 1, recs...)},
		{"pcapng", slices.Concat(blocks...)},
	} {
		src, err := NewReader(bytes.NewReader(c.data), "whole")
		require.NoError(t, err)
		want, err := readPackets(t, src)
		require.ErrorIs(t, err, io.EOF)
		require.Len(t, want, len(recs))
		for _, r := range []struct {
			name string
			r    io.Reader
		}{
			{"one byte at a time", iotest.OneByteReader(bytes.NewReader(c.data))},
			{"half of what is asked", iotest.HalfReader(bytes.NewReader(c.data))},
			{"EOF with the last bytes", iotest.DataErrReader(bytes.NewReader(c.data))},
			{"4093 bytes after an empty read", &shortReads{r: bytes.NewReader(c.data), n: 4093}},
		} {
			t.Run(c.format+"/"+r.name, func(t *testing.T) {
				src, err := NewReader(r.r, "x")
				require.NoError(t, err)
				got, err := readPackets(t, src)
				require.ErrorIs(t, err, io.EOF)
				assert.Equal(t, want, got)
			})
		}
	}
}

// stuckReader returns nothing, forever.
type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

// TestReadErrorsNameTheOffset: an input that fails, or stops making
// progress, ends the stream with an error that names the offset, and is
// not mistaken for a capture cut short.
func TestReadErrorsNameTheOffset(t *testing.T) {
	o := binary.LittleEndian
	file := pcapFile(o, magicMicro, 1, pcapRec{sec: 1, data: bytesOf(100, 1)}, pcapRec{sec: 2, data: bytesOf(100, 2)})
	for _, tc := range []struct {
		name string
		r    io.Reader
		want error
		msg  string
	}{
		{"a failing read", io.MultiReader(bytes.NewReader(file[:150]), iotest.ErrReader(errors.New("disk on fire"))),
			nil, "x: offset 140: read: disk on fire"},
		{"a reader that makes no progress", io.MultiReader(bytes.NewReader(file[:150]), stuckReader{}),
			io.ErrNoProgress, "x: offset 140: read: multiple Read calls return no data or error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := NewReader(tc.r, "x")
			require.NoError(t, err)
			got, err := readPackets(t, src)
			assert.Len(t, got, 1, "the packet before the failure")
			require.Error(t, err)
			assert.Equal(t, tc.msg, err.Error())
			assert.NotErrorIs(t, err, ErrTruncated)
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			}
		})
	}
}
