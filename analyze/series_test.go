package analyze

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
)

// TestSeriesAddsUpToTheFlow: over every lab recording, a flow's series
// holds what its totals say, bucket by bucket: the bytes, retransmissions,
// window advertisements, zero windows and RTT samples of each direction
// sum to the flow's counters, and the largest bytes in flight is the
// flow's.
func TestSeriesAddsUpToTheFlow(t *testing.T) {
	for _, dir := range labScenarios(t) {
		for _, end := range []string{"client.pcap", "server.pcap"} {
			t.Run(filepath.Base(dir)+"/"+end, func(t *testing.T) {
				src, err := capture.Open(filepath.Join(dir, end))
				require.NoError(t, err)
				defer src.Close()
				budget := NewSeriesBudget(1 << 20)
				rec := NewSeriesRecorder(budget)
				n := 0
				Run(src, nil, Config{Series: rec}, func(f *Flow) {
					s := rec.Take(f.ID)
					if f.Client.Packets+f.Server.Packets == uint64(f.SYNs+f.SYNACKs) {
						assert.Nil(t, s, "a flow of SYNs only is not recorded")
						return
					}
					require.NotNil(t, s)
					defer budget.Free(s)
					n++
					assert.Equal(t, len(s.Points(ClientToServer))-1, s.Bucket(f.LastPacket), "the flow's last packet is in the last bucket")
					assert.Equal(t, -1, s.Bucket(0), "packet 0 precedes every series")
					for d, e := range []*Endpoint{&f.Client, &f.Server} {
						peer := f.Peer(e)
						var sum SeriesPoint
						var adverts, rtts uint64
						for _, p := range s.Points(Direction(d)) {
							sum.Bytes += p.Bytes
							sum.Retrans += p.Retrans
							sum.Zero += p.Zero
							adverts += uint64(p.Adverts)
							rtts += uint64(p.RTTs)
							sum.InFlight = max(sum.InFlight, p.InFlight)
						}
						assert.Equal(t, e.UniqueBytes, sum.Bytes, "direction %d bytes", d)
						assert.EqualValues(t, e.RetransPackets, sum.Retrans, "direction %d retransmissions", d)
						assert.EqualValues(t, peer.ZeroWindows, sum.Zero, "direction %d zero windows", d)
						assert.Equal(t, peer.Window.Samples, adverts, "direction %d window advertisements", d)
						assert.Equal(t, e.RTT.Samples, rtts, "direction %d RTT samples", d)
						assert.Equal(t, e.MaxInFlight, sum.InFlight, "direction %d bytes in flight", d)
					}
				})
				assert.Positive(t, n, "some flow was recorded")
			})
		}
	}
}

// TestSeriesCoarsensToStayBounded: a flow longer than its buckets merges
// them pairwise, keeping each bucket's extremes and last value, and never
// uses more than SeriesBuckets.
func TestSeriesCoarsensToStayBounded(t *testing.T) {
	s := &Series{start: 0, width: seriesFirstWidth}
	for ms := range int64(1000) { // 1 s of 1 ms packets: 240 buckets of 1 ms will not hold it
		i := s.bucket(ms * 1_000_000)
		p := &s.dir[ClientToServer][i]
		w := uint16(ms)
		if p.Adverts == 0 {
			p.WinMin, p.WinMax = w, w
		}
		p.WinMin, p.WinMax, p.WinLast = min(p.WinMin, w), max(p.WinMax, w), w
		p.Adverts++
		p.Bytes += 10
	}
	assert.LessOrEqual(t, len(s.Points(ClientToServer)), SeriesBuckets)
	assert.Equal(t, 8*time.Millisecond, s.Width(), "1,000 ms in 240 buckets: widths of 1, 2, 4 then 8 ms")
	pts := s.Points(ClientToServer)
	assert.Len(t, pts, 125)
	for _, c := range []struct {
		ms     int64
		bucket int
	}{{-1, -1}, {0, 0}, {7, 0}, {8, 1}, {999, 124}, {1000, 125}} {
		assert.Equal(t, c.bucket, s.At(c.ms*1_000_000), "bucket of %d ms", c.ms)
	}
	assert.Equal(t, int64(16_000_000), s.BucketStart(2), "the third 8 ms bucket begins at 16 ms")
	var bytes uint64
	for i, p := range pts {
		bytes += p.Bytes
		assert.Equal(t, uint16(8*i), p.WinMin, "bucket %d", i)
		assert.Equal(t, uint16(8*i+7), p.WinMax, "bucket %d", i)
		assert.Equal(t, p.WinMax, p.WinLast, "bucket %d: the last advertisement is the latest", i)
	}
	assert.Equal(t, uint64(10_000), bytes, "merging loses no bytes")
}

// TestSeriesBudgetIsShared: once the budget's series are taken, further
// flows go unrecorded until one is freed.
func TestSeriesBudgetIsShared(t *testing.T) {
	b := NewSeriesBudget(2 * SeriesSize)
	s1, s2 := b.get(), b.get()
	require.NotNil(t, s1)
	require.NotNil(t, s2)
	assert.Nil(t, b.get(), "the budget is spent")
	b.Free(s1)
	assert.Same(t, s1, b.get(), "a freed series serves the next flow")
}

// TestAddDoesNotAllocateWhileRecording: recording a flow's series
// allocates once for the flow, not per segment.
func TestAddDoesNotAllocateWhileRecording(t *testing.T) {
	a := New(Config{Series: NewSeriesRecorder(NewSeriesBudget(1 << 20))}, func(*Flow) {})
	for i, s := range handshake(linuxLayout, 7, linuxLayout, 7) {
		g := s.build(uint64(i + 1))
		a.Add(&g)
	}
	data := segSpec{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, payload: 1448, ms: 50}.build(10)
	ackSeg := segSpec{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 3000, ms: 51}.build(11)
	allocs := testing.AllocsPerRun(1000, func() {
		data.Seq = data.Seq.Add(1448)
		data.Time += 1000
		a.Add(&data)
		ackSeg.Ack = data.Seq
		ackSeg.Time += 1000
		ackSeg.Window = uint16(3000 + data.Seq%7)
		a.Add(&ackSeg)
	})
	assert.Zero(t, allocs)
}
