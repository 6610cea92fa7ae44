package analyze

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
	"rwin/fixtures"
)

// TestCopySlotIgnoresTheFlowHash: the slot a segment's fingerprint takes
// must not depend on the flow hash, which is seeded at random per
// Analyzer; otherwise which segments collide, and so which copies are
// found, changes from run to run.
func TestCopySlotIgnoresTheFlowHash(t *testing.T) {
	seg := capture.Segment{Seq: 1000, Ack: 2000, IPID: 77, Checksum: 0xbeef, Window: 512,
		Flags: capture.FlagACK, Payload: 1448, SrcPort: 50000, DstPort: 445}
	slot, print := segmentPrint(&seg, 1, flowPartition(&seg))
	for _, h := range []uint64{0, 2, 0xdeadbeef, ^uint64(0)} {
		s, p := segmentPrint(&seg, h, flowPartition(&seg))
		assert.Equal(t, slot, s, "slot with flow hash %#x", h)
		assert.NotEqual(t, print, p, "the fingerprint keeps flows apart")
	}
}

// TestCopiesFoundAlikeWhateverTheSeed: zeek/pppoe-over-qinq.pcap holds one
// flow recorded at several VLAN depths, copies interleaved with their
// originals. With the slot taken from the seeded flow hash, 5 runs in 300
// counted other copies; every seed must count the same.
func TestCopiesFoundAlikeWhateverTheSeed(t *testing.T) {
	path := filepath.Join(fixtures.CorpusDir(t), "zeek", "pppoe-over-qinq.pcap")
	var segs []capture.Segment
	src, err := capture.Open(path)
	require.NoError(t, err)
	defer src.Close()
	var (
		p   capture.Packet
		dec capture.Decoder
	)
	for {
		if err := src.Next(&p); err != nil {
			require.True(t, errors.Is(err, io.EOF), "%v", err)
			break
		}
		var seg capture.Segment
		if dec.Decode(&p, &seg) == capture.VerdictTCP {
			segs = append(segs, seg)
		}
	}
	require.NotEmpty(t, segs)

	count := func(seed uint64) (dups uint64) {
		a := New(Config{}, func(*Flow) {})
		a.seed = seed
		for i := range segs {
			a.Add(&segs[i])
		}
		a.Flush()
		return a.Stats().Duplicates
	}
	want := count(0)
	require.NotZero(t, want)
	for seed := uint64(1); seed <= 2000; seed++ {
		if got := count(seed * 0x9e3779b97f4a7c15); got != want {
			t.Fatalf("seed %d: %d copies, seed 0: %d", seed, got, want)
		}
	}
}
