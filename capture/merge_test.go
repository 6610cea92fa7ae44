package capture

import (
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listSource yields fixed packets, then err (io.EOF when nil).
type listSource struct {
	name   string
	pkts   []Packet
	err    error
	closed bool
}

func (s *listSource) Next(p *Packet) error {
	if len(s.pkts) == 0 {
		if s.err != nil {
			return s.err
		}
		return io.EOF
	}
	*p, s.pkts = s.pkts[0], s.pkts[1:]
	return nil
}
func (s *listSource) Name() string { return s.name }
func (s *listSource) Close() error { s.closed = true; return nil }

func timed(ts ...int64) []Packet {
	var ps []Packet
	for i, t := range ts {
		ps = append(ps, Packet{Time: t, Data: []byte{byte(t)}, Index: uint64(i + 1)})
	}
	return ps
}

func TestMerge(t *testing.T) {
	cut := errors.New("b.pcap: offset 99: record cut short")
	for _, tc := range []struct {
		name    string
		srcs    []*listSource
		times   []int64
		wantErr error
	}{
		{
			name:  "two ring files in timestamp order",
			srcs:  []*listSource{{pkts: timed(1, 2, 3)}, {pkts: timed(4, 5)}},
			times: []int64{1, 2, 3, 4, 5},
		},
		{
			name:  "files given in the wrong order",
			srcs:  []*listSource{{pkts: timed(4, 5)}, {pkts: timed(1, 2, 3)}},
			times: []int64{1, 2, 3, 4, 5},
		},
		{
			name:  "overlapping captures interleave, the earlier source first on ties",
			srcs:  []*listSource{{pkts: timed(1, 3, 5)}, {pkts: timed(2, 3, 4)}},
			times: []int64{1, 2, 3, 3, 4, 5},
		},
		{
			name:    "a file cut short ends alone and its error comes last",
			srcs:    []*listSource{{pkts: timed(1, 2), err: cut}, {pkts: timed(3, 4)}},
			times:   []int64{1, 2, 3, 4},
			wantErr: cut,
		},
		{name: "no packets at all", srcs: []*listSource{{}, {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srcs []Source
			for _, s := range tc.srcs {
				srcs = append(srcs, s)
			}
			m := Merge("set", srcs...)
			var times []int64
			var p Packet
			var err error
			for err = m.Next(&p); err == nil; err = m.Next(&p) {
				times = append(times, p.Time)
				assert.Equal(t, uint64(len(times)), p.Index, "numbered across the set")
				assert.Equal(t, []byte{byte(p.Time)}, p.Data)
			}
			assert.Equal(t, tc.times, times)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
			} else {
				assert.ErrorIs(t, err, io.EOF)
			}
			assert.ErrorIs(t, m.Next(&p), err, "the end is sticky")
			require.NoError(t, m.Close())
			for _, s := range tc.srcs {
				assert.True(t, s.closed)
			}
			assert.Equal(t, "set", m.Name())
		})
	}
}

func TestRingFile(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		set        string
		n          int
		later, ok  bool
	}{
		{"dumpcap first file", "/c/rdp_00001_20260101020000.pcapng", "/c/rdp_#", 1, false, true},
		{"dumpcap later file", "/c/rdp_00002_20260101020100.pcapng", "/c/rdp_#", 2, true, true},
		{"dumpcap gzipped file", "rdp_00012_20260101020100.pcapng.gz", "rdp_#", 12, true, true},
		{"editcap split first file", "x_00000_20241225065226.pcap", "x_#", 0, false, true},
		{"tcpdump -C first file", "/tmp/smb.pcap", "", 0, false, false},
		{"tcpdump -C second file", "/tmp/smb.pcap1", "/tmp/smb.pcap#", 1, true, true},
		{"tcpdump -W first file", "smb.pcap00", "smb.pcap#", 0, false, true},
		{"an ordinary name with digits", "capture2026.pcap", "", 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, n, later, ok := RingFile(tc.file)
			assert.Equal(t, []any{tc.set, tc.n, tc.later, tc.ok}, []any{set, n, later, ok})
		})
	}
}
