package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
	"rwin/fixtures"
)

// smallFixtures adds the fixture captures under 16 KB as seeds: the
// fuzzer minimizes every input that finds new code byte by byte, slowly
// on large ones.
func smallFixtures(f *testing.F, add func([]byte)) {
	for _, name := range fixtureCaptures(f) {
		b, err := os.ReadFile(filepath.Join(fixtures.Dir(), name))
		require.NoError(f, err)
		if len(b) < 16<<10 {
			add(b)
		}
	}
}

// FuzzJSONOutputs reads arbitrary bytes as a capture on standard input
// with --format json and ndjson: whatever the flows (cut, malformed,
// timestamps going back, zero durations), the output is valid JSON — one
// document, or one value a line — never a panic.
func FuzzJSONOutputs(f *testing.F) {
	smallFixtures(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		run([]string{"read", "--format", "json", "-"}, bytes.NewReader(data), &out, io.Discard)
		require.True(t, json.Valid(out.Bytes()), "json document:\n%s", out.Bytes())

		out.Reset()
		run([]string{"read", "--format", "ndjson", "-"}, bytes.NewReader(data), &out, io.Discard)
		sc := bufio.NewScanner(&out)
		sc.Buffer(nil, 1<<24)
		lines := 0
		for sc.Scan() {
			lines++
			require.True(t, json.Valid(sc.Bytes()), "ndjson line %d: %s", lines, sc.Bytes())
		}
		require.NoError(t, sc.Err())
		require.Positive(t, lines, "at least the summary")
	})
}

// FuzzPcapWriterRoundTrip: any packet rwin live writes with -w reads back
// the same: bytes, wire length and timestamp (pcap keeps seconds in 32
// bits: times from 1970 to 2106).
func FuzzPcapWriterRoundTrip(f *testing.F) {
	f.Add([]byte{0xde, 0xad}, int64(1_767_323_045_123_456_789), 60, uint16(1))
	f.Add([]byte{}, int64(0), 0, uint16(276))
	f.Add(bytes.Repeat([]byte{7}, 1500), int64(4_294_967_295_999_999_999), 9000, uint16(101))
	f.Fuzz(func(t *testing.T, data []byte, when int64, origLen int, link uint16) {
		const snaplen = 262144
		if when < 0 || when >= 1<<32*1e9 || len(data) > snaplen || origLen < 0 || origLen > 1<<30 {
			return // not a time or size pcap can hold
		}
		var file bytes.Buffer
		w, err := capture.NewPcapWriter(&file, capture.LinkType(link), snaplen)
		require.NoError(t, err)
		in := capture.Packet{Data: data, OrigLen: origLen, Time: when, Index: 1}
		require.NoError(t, w.Write(&in))
		require.NoError(t, w.Write(&in))

		src, err := capture.NewReader(bytes.NewReader(file.Bytes()), "round-trip")
		require.NoError(t, err)
		defer src.Close()
		for i := range 2 {
			var got capture.Packet
			require.NoError(t, src.Next(&got), "packet %d", i+1)
			assert.Equal(t, data, got.Data[:len(got.Data):len(got.Data)], "packet %d bytes", i+1)
			assert.Equal(t, max(origLen, len(data)), got.OrigLen)
			assert.Equal(t, when, got.Time)
			assert.Equal(t, capture.LinkType(link), got.Link)
		}
		var end capture.Packet
		assert.ErrorIs(t, src.Next(&end), io.EOF)
	})
}

// FuzzFilterArgument: any BPF expression given to rwin read is compiled
// or refused with a one-line error, never a panic.
func FuzzFilterArgument(f *testing.F) {
	for _, s := range []string{"tcp port 3389", "host 10.0.0.1 and (tcp[13] & 2 != 0)", "not", "ip6 and tcp", "((((", "port 99999",
		"tcp[tcpflags] & tcp-syn != 0", "vlan and tcp", strings.Repeat("tcp and ", 50) + "tcp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		filter, err := capture.NewFilter(expr, capture.LinkEthernet, 0)
		if err != nil {
			require.NotContains(t, oneLine(err.Error()), "\n")
			return
		}
		pkt := capture.Packet{Data: make([]byte, 60), OrigLen: 60, Link: capture.LinkEthernet, Index: 1}
		filter.Match(&pkt)
	})
}
