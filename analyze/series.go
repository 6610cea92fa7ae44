package analyze

import (
	"sync"
	"time"
	"unsafe"

	"rwin/capture"
)

// A flow's time series, for charts: per direction of data, a fixed number
// of time buckets, each the minimum, maximum and last of what the packets
// in it showed. A flow that outlasts its buckets doubles their width and
// merges them pairwise, so a series never grows: a ten-hour RDP session
// takes the same memory as a one-second transfer, at a coarser grain.
// Recording is off (Config.Series nil) unless an output asks for it; the
// analyzer's fast path then pays one nil check per segment.

// SeriesBuckets is how many time buckets a series holds per direction: a
// few hundred points is about what a chart's width can show.
const SeriesBuckets = 240

// seriesFirstWidth is the width of a new series' buckets: 1 ms, below
// a LAN round trip, so a short transfer is drawn in detail.
const seriesFirstWidth = time.Millisecond

// SeriesPoint is one time bucket of one direction of data: the sender's
// data and the receiver's window advertisements that fell into it.
type SeriesPoint struct {
	// Bytes is how far the sender's highest sequence number advanced.
	Bytes uint64
	// InFlight is the most bytes the sender had unacknowledged after one
	// of its data segments, at the capture point.
	InFlight uint32
	// RTTMin and RTTMax bound the ACK-clocked RTT samples (µs) of the
	// sender's data; valid when RTTs > 0.
	RTTMin, RTTMax uint32
	// WinMin, WinMax and WinLast are the receiver's raw window fields,
	// unscaled; valid when Adverts > 0.
	WinMin, WinMax, WinLast uint16
	// Adverts counts the receiver's window advertisements, RTTs the RTT
	// samples, Retrans the sender's retransmitted segments and Zero the
	// receiver's zero windows (each saturating at 65,535).
	Adverts, RTTs, Retrans, Zero uint16
	// RST reports a reset from either side.
	RST bool
}

// Series is the time series of one flow. Read it after the flow finished.
type Series struct {
	start int64         // ns, the first bucket's start
	width time.Duration // of each bucket
	n     int           // buckets in use
	dir   [2][SeriesBuckets]SeriesPoint
	// first holds each bucket's first packet number (0: no packet), to
	// place evidence cited by packet number.
	first [SeriesBuckets]uint64
	prev  [2]seriesCounters
}

// seriesCounters are a sender's counters after the previous segment: what
// a segment changed is the difference.
type seriesCounters struct {
	unique, retrans, zero, rtts uint64
	rttSum                      time.Duration
}

// Start returns when the first bucket begins, in ns since the epoch like
// capture.Packet.Time.
func (s *Series) Start() int64 { return s.start }

// Width returns how long each bucket lasts.
func (s *Series) Width() time.Duration { return s.width }

// At returns the bucket that covers time t (ns since the epoch): -1
// before the first, and possibly past the last bucket with packets.
func (s *Series) At(t int64) int {
	if t < s.start {
		return -1
	}
	return int((t - s.start) / int64(s.width))
}

// BucketStart returns when bucket i begins (ns since the epoch).
func (s *Series) BucketStart(i int) int64 { return s.start + int64(i)*int64(s.width) }

// Points returns the buckets of direction d (ClientToServer or
// ServerToClient) from the first to the last with packets; those without
// packets are zero.
func (s *Series) Points(d Direction) []SeriesPoint { return s.dir[d][:s.n] }

// Bucket returns the bucket that holds packet number pkt: the last one
// whose first packet is not after it, or -1 before the series began.
func (s *Series) Bucket(pkt uint64) int {
	b := -1
	for i, p := range s.first[:s.n] {
		if p != 0 && p <= pkt {
			b = i
		}
	}
	return b
}

// SeriesSize is the memory one flow's series takes, in bytes.
const SeriesSize = int(unsafe.Sizeof(Series{}))

// SeriesBudget bounds the memory of the series of all flows recorded at
// once (in all the captures read together): a flow that starts when it is
// spent is not recorded. Safe for concurrent use.
type SeriesBudget struct {
	mu   sync.Mutex
	left int       // series that may still be allocated
	free []*Series // series handed back, for reuse
}

// NewSeriesBudget returns a budget of the given number of bytes.
func NewSeriesBudget(bytes int) *SeriesBudget {
	return &SeriesBudget{left: bytes / SeriesSize}
}

func (b *SeriesBudget) get() *Series {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := len(b.free); n > 0 {
		s := b.free[n-1]
		b.free = b.free[:n-1]
		*s = Series{}
		return s
	}
	if b.left == 0 {
		return nil
	}
	b.left--
	return new(Series)
}

// Free hands a series back to the budget; s must not be used after. A
// nil s is ignored.
func (b *SeriesBudget) Free(s *Series) {
	if s == nil {
		return
	}
	b.mu.Lock()
	b.free = append(b.free, s)
	b.mu.Unlock()
}

// SeriesRecorder records the series of one analyzer's flows (set it as
// Config.Series). The analyzer's emit function must Take every finished
// flow's series: the recorder holds it until then. Used from the
// analyzer's goroutine only.
type SeriesRecorder struct {
	budget *SeriesBudget
	// slots holds the series being recorded; a flow's state keeps its
	// slot (plus one), so that a segment finds its series without a
	// lookup (a map by flow ID was a fifth of rwin read's time).
	slots []*Series
	free  []uint32          // slots not in use
	byID  map[uint64]uint32 // a recorded flow's slot plus one, for Take
}

// noSeries marks a flow the budget could not record: it is not asked
// again for every segment.
const noSeries = ^uint32(0)

// NewSeriesRecorder returns a recorder drawing on budget.
func NewSeriesRecorder(budget *SeriesBudget) *SeriesRecorder {
	return &SeriesRecorder{budget: budget, byID: map[uint64]uint32{}}
}

// Take returns the series of the flow with the given ID, or nil when it
// was not recorded, and forgets it: the caller owns it now and hands it
// back with SeriesBudget.Free.
func (r *SeriesRecorder) Take(id uint64) *Series {
	slot, ok := r.byID[id]
	if !ok {
		return nil
	}
	delete(r.byID, id)
	s := r.slots[slot-1]
	r.slots[slot-1] = nil
	r.free = append(r.free, slot-1)
	return s
}

// start gives fs a series from the budget, if it has one to give.
func (r *SeriesRecorder) start(fs *flowState, t int64) {
	s := r.budget.get()
	if s == nil {
		fs.series = noSeries
		return
	}
	s.start, s.width = t, seriesFirstWidth
	var slot uint32
	if n := len(r.free); n > 0 {
		slot = r.free[n-1]
		r.free = r.free[:n-1]
		r.slots[slot] = s
	} else {
		slot = uint32(len(r.slots))
		r.slots = append(r.slots, s)
	}
	fs.series = slot + 1
	r.byID[fs.ID] = slot + 1
}

// record folds the segment fs.update has just taken into fs's series. A
// flow's series starts with its first segment without SYN: a flood of
// unanswered SYNs takes none of the budget.
func (r *SeriesRecorder) record(fs *flowState, seg *capture.Segment) {
	if fs.series == 0 {
		if seg.Flags.Has(capture.FlagSYN) {
			return
		}
		r.start(fs, seg.Time)
	}
	if fs.series == noSeries {
		return
	}
	s := r.slots[fs.series-1]
	i := s.bucket(seg.Time)
	if s.first[i] == 0 {
		s.first[i] = seg.Packet
	}
	fromClient := fs.fromClient(seg)
	sender, peer, st, rt := &fs.Client, &fs.Server, &fs.client, &fs.server
	out, in := ClientToServer, ServerToClient // the sender's data, its window
	if !fromClient {
		sender, peer, st, rt = peer, sender, rt, st
		out, in = in, out
	}
	rst := seg.Flags.Has(capture.FlagRST)
	if rst {
		s.dir[0][i].RST, s.dir[1][i].RST = true, true
	}
	// Its window, for the data flowing toward it.
	if seg.Flags&(capture.FlagACK|capture.FlagSYN|capture.FlagRST) == capture.FlagACK {
		p := &s.dir[in][i]
		w := seg.Window
		if p.Adverts == 0 {
			p.WinMin, p.WinMax = w, w
		}
		p.WinMin, p.WinMax, p.WinLast = min(p.WinMin, w), max(p.WinMax, w), w
		p.Adverts = inc16(p.Adverts)
	}
	s.counters(i, in, peer, sender)
	// Its data.
	if seg.Payload > 0 && st.nxtOK && rt.ackOK {
		if fl := st.nxt.Sub(rt.ack); fl > 0 {
			p := &s.dir[out][i]
			p.InFlight = max(p.InFlight, uint32(fl))
		}
	}
	s.counters(i, out, sender, peer)
}

// counters moves what changed in sender's counters since the last segment
// into bucket i of direction d; receiver is the peer, whose zero windows
// stop that direction's data.
func (s *Series) counters(i int, d Direction, sender, receiver *Endpoint) {
	c := &s.prev[d]
	p := &s.dir[d][i]
	if n := sender.UniqueBytes - c.unique; n > 0 {
		p.Bytes += n
	}
	p.Retrans = add16(p.Retrans, sender.RetransPackets-c.retrans)
	p.Zero = add16(p.Zero, receiver.ZeroWindows-c.zero)
	if n := sender.RTT.Samples - c.rtts; n > 0 {
		// One segment acknowledges at most one timed segment: the new
		// sample is the growth of the sum.
		us := uint32(min(max(sender.RTT.Sum-c.rttSum, 0)/1000, 1<<32-1))
		if p.RTTs == 0 {
			p.RTTMin, p.RTTMax = us, us
		}
		p.RTTMin, p.RTTMax = min(p.RTTMin, us), max(p.RTTMax, us)
		p.RTTs = add16(p.RTTs, n)
	}
	*c = seriesCounters{unique: sender.UniqueBytes, retrans: sender.RetransPackets, zero: receiver.ZeroWindows,
		rtts: sender.RTT.Samples, rttSum: sender.RTT.Sum}
}

// bucket returns the bucket of time t, coarsening the series until t
// fits. Packets out of time order before the start count in the first.
func (s *Series) bucket(t int64) int {
	if t < s.start {
		return 0
	}
	for (t-s.start)/int64(s.width) >= SeriesBuckets {
		s.coarsen()
	}
	i := int((t - s.start) / int64(s.width))
	s.n = max(s.n, i+1)
	return i
}

// coarsen doubles the buckets' width, merging each pair.
func (s *Series) coarsen() {
	for d := range s.dir {
		b := &s.dir[d]
		for i := 0; i < SeriesBuckets/2; i++ {
			b[i] = merge(b[2*i], b[2*i+1])
		}
		clear(b[SeriesBuckets/2:])
	}
	for i := 0; i < SeriesBuckets/2; i++ {
		a, b := s.first[2*i], s.first[2*i+1]
		if a == 0 || b != 0 && b < a {
			a = b
		}
		s.first[i] = a
	}
	clear(s.first[SeriesBuckets/2:])
	s.width *= 2
	s.n = (s.n + 1) / 2
}

// merge combines two adjacent buckets, a before b.
func merge(a, b SeriesPoint) SeriesPoint {
	m := SeriesPoint{Bytes: a.Bytes + b.Bytes, InFlight: max(a.InFlight, b.InFlight),
		Adverts: add16(a.Adverts, uint64(b.Adverts)), RTTs: add16(a.RTTs, uint64(b.RTTs)),
		Retrans: add16(a.Retrans, uint64(b.Retrans)), Zero: add16(a.Zero, uint64(b.Zero)), RST: a.RST || b.RST}
	switch {
	case a.Adverts == 0:
		m.WinMin, m.WinMax, m.WinLast = b.WinMin, b.WinMax, b.WinLast
	case b.Adverts == 0:
		m.WinMin, m.WinMax, m.WinLast = a.WinMin, a.WinMax, a.WinLast
	default:
		m.WinMin, m.WinMax, m.WinLast = min(a.WinMin, b.WinMin), max(a.WinMax, b.WinMax), b.WinLast
	}
	switch {
	case a.RTTs == 0:
		m.RTTMin, m.RTTMax = b.RTTMin, b.RTTMax
	case b.RTTs == 0:
		m.RTTMin, m.RTTMax = a.RTTMin, a.RTTMax
	default:
		m.RTTMin, m.RTTMax = min(a.RTTMin, b.RTTMin), max(a.RTTMax, b.RTTMax)
	}
	return m
}

func inc16(v uint16) uint16 { return add16(v, 1) }

// add16 adds n to v, saturating at 65,535.
func add16(v uint16, n uint64) uint16 {
	return uint16(min(uint64(v)+n, 1<<16-1))
}
