package analyze

import (
	"cmp"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"rwin/capture"
)

// Defaults for Config.
const (
	// DefaultMaxFlows bounds live flow state. A flow costs 2 KiB
	// (TestLiveFlowMemory measures it), plus 896 bytes for the window
	// histogram of each side that advertised more than eight distinct
	// windows, so the default caps live state between 0.5 and 1 GiB.
	DefaultMaxFlows = 1 << 18
	// DefaultLinger is how long a flow that carried no data, or closed
	// without ending cleanly (see DefaultClosedLinger), stays in the table
	// after its last packet, to absorb late retransmissions before it is
	// finished (about one Linux TIME_WAIT).
	DefaultLinger = 60 * time.Second
	// DefaultClosedLinger is how long a flow that has ended cleanly stays
	// after its last packet: reset, or FIN both ways with both FINs
	// acknowledged. All its data is acknowledged, so what can still come
	// is a FIN retransmitted because the last ACK was lost past the
	// capture point (Linux: after 200 ms, then 400 ms, 800 ms…), its
	// re-ACK, or data the peer had in flight when the reset crossed it
	// (one RTT). On the lab, synthetic and corpus captures none arrives
	// later than this; one that does opens a mid-stream flow of its own.
	// Keeping ended flows for DefaultLinger instead would hold a busy
	// capture's every flow to its end.
	DefaultClosedLinger = 2 * time.Second
)

// Config bounds the flow table.
type Config struct {
	// MaxFlows caps live flows; when full, the least recently active flow
	// is finished early and marked Evicted. 0 means DefaultMaxFlows.
	MaxFlows int
	// Linger: see DefaultLinger. 0 means DefaultLinger; negative disables
	// it (flows then end only when evicted, replaced or flushed).
	Linger time.Duration
	// ClosedLinger: see DefaultClosedLinger. 0 means DefaultClosedLinger,
	// or Linger if that is shorter; ignored when Linger is negative.
	ClosedLinger time.Duration
	// IdleTimeout finishes any flow, open or not, after this much capture
	// time without packets. 0 disables it (reading files: an idle RDP
	// session is still one session); live capture sets it.
	IdleTimeout time.Duration
	// Series, when set, records each flow's time series for charts (see
	// SeriesRecorder); nil, the default, records none.
	Series *SeriesRecorder
	// Observer, when set, sees every segment filed with its flow's ID
	// (see Observer); nil, the default, costs one comparison a segment.
	Observer Observer
	// CPUs is how many CPUs one Run may shard its flows over, 0 for
	// GOMAXPROCS: a program that runs several at once gives each its
	// share. Below three Run does not shard; with GOMAXPROCS above one it
	// still reads and analyzes on two goroutines.
	CPUs int
}

// Stats counts what the analyzer did.
type Stats struct {
	// Segments is the number of TCP segments analyzed.
	Segments uint64
	// Flows is the number of flows created.
	Flows uint64
	// Evicted counts flows finished early because the table was full.
	Evicted uint64
	// PeakFlows is the most flows live at once.
	PeakFlows int
	// Duplicates counts segments recorded twice (see recentSegments),
	// left out of every flow's figures.
	Duplicates uint64
}

// Analyzer is the flow table. Feed it segments with Add, in capture order;
// it calls the emit function with every flow it finishes. Not safe for
// concurrent use: run one Analyzer per capture.
type Analyzer struct {
	cfg  Config
	emit func(*Flow)
	// index finds live flows by flowHash; live counts them.
	index flowIndex
	live  int
	seed  uint64
	// ended holds flows that ended cleanly (see flowState.ended);
	// transient those otherwise closed or that carried no data yet; open
	// the rest. Each is ordered by last activity, most recent first, to
	// within touchSlack, so expiry and eviction look only at the tails.
	ended, transient, open flowList
	free                   []*flowState // finished flows' state, for reuse
	quiet                  []*flowState // finishQuiet's flows to finish
	clock                  int64        // latest packet time seen (captures are not strictly ordered)
	lastSweep              int64
	nextID                 uint64
	stats                  Stats
	recent                 recentSegments // to tell copies of a segment from retransmissions
	unanswered             unansweredTable
	// shard is set when the table is one shard of a sharded run (see
	// shardedRun): its flows are emitted by the merge, not by finish.
	shard *shard
}

// New returns an Analyzer that hands each finished flow to emit. The *Flow
// is valid only during the call: copy it to keep it.
func New(cfg Config, emit func(*Flow)) *Analyzer {
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	if cfg.Linger == 0 {
		cfg.Linger = DefaultLinger
	}
	if cfg.ClosedLinger <= 0 {
		cfg.ClosedLinger = min(DefaultClosedLinger, cfg.Linger)
	}
	return &Analyzer{cfg: cfg, emit: emit, seed: rand.Uint64(),
		ended: flowList{id: onEnded}, transient: flowList{id: onTransient}, open: flowList{id: onOpen}}
}

// Stats returns the counters so far.
func (a *Analyzer) Stats() Stats { return a.stats }

// Unanswered returns the connection attempts nothing answered among the
// flows finished so far, by server endpoint.
func (a *Analyzer) Unanswered() Unanswered { return a.unanswered.result() }

// Live returns the number of flows in the table.
func (a *Analyzer) Live() int { return a.live }

// endpointKey is an address (IPv4 as IPv4-mapped IPv6) and port.
type endpointKey struct {
	addr [16]byte
	port uint16
}

// flowKey names a 4-tuple regardless of direction: a is the lesser end.
type flowKey struct{ a, b endpointKey }

func keyOf(seg *capture.Segment) flowKey {
	s, d := seg.Src.As16(), seg.Dst.As16()
	if lessAddrPort(&d, seg.DstPort, &s, seg.SrcPort) {
		return flowKey{endpointKey{d, seg.DstPort}, endpointKey{s, seg.SrcPort}}
	}
	return flowKey{endpointKey{s, seg.SrcPort}, endpointKey{d, seg.DstPort}}
}

func lessEndpoint(x, y endpointKey) bool { return lessAddrPort(&x.addr, x.port, &y.addr, y.port) }

// lessAddrPort orders endpoints by address, then port. It compares the
// addresses as two 64-bit words: keyOf runs on every packet, and a byte
// loop cost a fifth of the analyzer's time (BenchmarkRun).
func lessAddrPort(x *[16]byte, xport uint16, y *[16]byte, yport uint16) bool {
	if a, b := binary.BigEndian.Uint64(x[:8]), binary.BigEndian.Uint64(y[:8]); a != b {
		return a < b
	}
	if a, b := binary.BigEndian.Uint64(x[8:]), binary.BigEndian.Uint64(y[8:]); a != b {
		return a < b
	}
	return xport < yport
}

// carries reports whether seg belongs to fs's 4-tuple, either way,
// comparing addresses as keyOf does (IPv4 as IPv4-mapped IPv6).
func (fs *flowState) carries(seg *capture.Segment) bool {
	c, s := fs.Client.Addr, fs.Server.Addr
	if seg.SrcPort == c.Port() && seg.DstPort == s.Port() && sameAddr(seg.Src, c.Addr()) && sameAddr(seg.Dst, s.Addr()) {
		return true
	}
	return seg.SrcPort == s.Port() && seg.DstPort == c.Port() && sameAddr(seg.Src, s.Addr()) && sameAddr(seg.Dst, c.Addr())
}

func sameAddr(x, y netip.Addr) bool { return x == y || x.As16() == y.As16() }

// unlink takes fs, whose hash is h, out of the hash table.
func (a *Analyzer) unlink(fs *flowState, h uint64) {
	a.live--
	a.index.remove(h, fs)
}

// Add analyzes one segment.
func (a *Analyzer) Add(seg *capture.Segment) { a.addHashed(seg, a.flowHash(seg)) }

// addHashed is Add with the segment's flowHash already computed.
func (a *Analyzer) addHashed(seg *capture.Segment, h uint64) {
	a.stats.Segments++
	if seg.Time > a.clock {
		a.clock = seg.Time
	}
	a.analyze(seg, h)
	// Due by the clock alone, after a copy too: a sharded analyzer's
	// reader decides when the sweep runs (see shardedRun), and cannot
	// tell copies.
	if a.clock-a.lastSweep >= int64(time.Second) {
		a.lastSweep = a.clock
		a.expire()
	}
}

// analyze folds one segment into its flow, at the table's clock.
func (a *Analyzer) analyze(seg *capture.Segment, h uint64) {
	fs := a.index.find(h, seg)
	if a.recent.copyOf(seg, h, fs) {
		a.stats.Duplicates++
		if fs.fromClient(seg) {
			fs.Client.Duplicates++
		} else {
			fs.Server.Duplicates++
		}
		return
	}
	if fs != nil && fs.isNewIncarnation(seg) {
		a.finish(fs)
		fs = nil
	}
	if fs == nil {
		if a.full() {
			a.evict()
		}
		a.nextID++
		fs = a.newFlowState()
		fs.start(a.nextID, seg)
		a.index.insert(h, fs)
		a.live++
		a.stats.Flows++
		a.stats.PeakFlows = max(a.stats.PeakFlows, a.live)
		if a.shard != nil {
			a.shard.created(fs)
		}
	}
	fs.update(seg)
	fs.Encap |= seg.Encap
	if a.cfg.Series != nil {
		a.cfg.Series.record(fs, seg)
	}
	if a.cfg.Observer != nil {
		a.cfg.Observer.Segment(&fs.Flow, seg)
	}
	a.touch(fs)
}

// full reports whether a new flow must make room first: the table holds
// MaxFlows flows (a shard's table: the shards together, see shard.full).
func (a *Analyzer) full() bool {
	if a.shard != nil {
		return a.shard.full()
	}
	return a.live >= a.cfg.MaxFlows
}

// evict makes room for a new flow (see evictOne and shardGroup.evict).
func (a *Analyzer) evict() {
	if a.shard != nil {
		a.shard.g.evict(a.shard.at)
		return
	}
	a.evictOne()
}

// Flush finishes every flow still in the table, oldest activity first.
func (a *Analyzer) Flush() {
	for _, l := range []*flowList{&a.ended, &a.transient, &a.open} {
		a.finishQuiet(l, -1, nil)
	}
}

// touchSlack is how long (capture time) a flow stays where it was last
// moved in its list before its activity moves it to the head again. A move
// unlinks the flow from its neighbours and links it before the head, three
// flows' state touched besides its own, too costly for every packet when a
// flow's packets come a few milliseconds apart. Lists are ordered by the
// last move, and a flow's last packet came less than touchSlack after it.
const touchSlack = int64(100 * time.Millisecond)

// touch keeps fs on the list its state belongs in, near the head if it
// was active lately (see touchSlack).
func (a *Analyzer) touch(fs *flowState) {
	want := &a.open
	switch {
	case fs.ended():
		want = &a.ended
	case fs.transient():
		want = &a.transient
	}
	if fs.list == want.id && a.clock-fs.moved < touchSlack {
		return
	}
	if l := a.listOf(fs); l != nil {
		l.remove(fs)
	}
	want.pushFront(fs)
	fs.moved = a.clock
	if a.shard != nil {
		fs.series = uint32(a.shard.at) // see pushedBefore
	}
}

// finishQuiet finishes the flows of l without packets for more than quiet
// (ns of capture time; every flow when negative) for which finish, if
// not nil, says so, the least recently active first. The list is in the
// order of the flows' last moves, which precede their last packets, so
// the walk from the tail stops at the first flow moved within quiet.
func (a *Analyzer) finishQuiet(l *flowList, quiet int64, finish func(*flowState) bool) {
	done := a.quiet[:0]
	for fs := l.tail; fs != nil && (quiet < 0 || a.clock-fs.moved > quiet); fs = fs.prev {
		if (quiet < 0 || a.clock-fs.lastTime > quiet) && (finish == nil || finish(fs)) {
			done = append(done, fs)
		}
	}
	slices.SortFunc(done, byLastPacket)
	for _, fs := range done {
		a.finish(fs)
	}
	clear(done)
	a.quiet = done[:0]
}

// byLastPacket orders flows by their last packet, the least recently
// active first: the order a list would have if every packet moved its
// flow (see touchSlack).
func byLastPacket(x, y *flowState) int { return cmp.Compare(x.LastPacket, y.LastPacket) }

// expire finishes flows whose quiet time has run out.
func (a *Analyzer) expire() {
	if a.cfg.Linger > 0 {
		a.finishQuiet(&a.ended, int64(a.cfg.ClosedLinger), nil)
		a.finishQuiet(&a.transient, int64(a.cfg.Linger), nil)
	}
	if a.cfg.IdleTimeout > 0 {
		for _, l := range []*flowList{&a.ended, &a.transient, &a.open} {
			a.finishQuiet(l, int64(a.cfg.IdleTimeout), nil)
		}
	}
}

// evictOne makes room: the least recently active ended, then transient
// flow goes first, since it is the least likely to matter. Least recently
// active is to within touchSlack: the tail of a list is the flow moved
// there longest ago.
func (a *Analyzer) evictOne() {
	fs := a.ended.tail
	if fs == nil {
		fs = a.transient.tail
	}
	if fs == nil {
		fs = a.open.tail
	}
	if fs == nil {
		return
	}
	fs.Evicted = true
	a.stats.Evicted++
	a.finish(fs)
}

func (a *Analyzer) finish(fs *flowState) {
	l := a.listOf(fs)
	l.remove(fs)
	a.unlink(fs, a.storedHash(fs))
	fs.finalize()
	if a.shard != nil {
		// Emitted by the merge, in the table's order; the state comes
		// back to this shard after (shard.reuse).
		a.shard.finished(fs, l.id)
		return
	}
	a.unanswered.add(&fs.Flow)
	a.emit(&fs.Flow)
	// emit's *Flow was valid only during the call: the state can serve
	// the next flow.
	fs.release()
	a.recycle(fs)
}

// recycle keeps a finished flow's state for reuse, up to maxFree.
func (a *Analyzer) recycle(fs *flowState) {
	if len(a.free) < maxFree {
		a.free = append(a.free, fs)
	}
}

// maxFree bounds the finished flows kept for reuse: 32 MiB of state, room
// for an expiry sweep's burst of thousands of finished flows.
const maxFree = 1 << 14

// newFlowState returns zeroed flow state, reusing a finished flow's: a SYN
// flood past the flow cap finishes a flow for every packet, and should not
// allocate one for each.
func (a *Analyzer) newFlowState() *flowState {
	n := len(a.free)
	if n == 0 {
		return new(flowState)
	}
	fs := a.free[n-1]
	a.free = a.free[:n-1]
	*fs = flowState{}
	return fs
}

// listID names the table's list a flow is on: a byte in the flow rather
// than a pointer.
type listID uint8

// Values of listID.
const (
	onNone listID = iota
	onEnded
	onTransient
	onOpen
)

// listOf returns the list fs is on, or nil.
func (a *Analyzer) listOf(fs *flowState) *flowList {
	switch fs.list {
	case onEnded:
		return &a.ended
	case onTransient:
		return &a.transient
	case onOpen:
		return &a.open
	}
	return nil
}

// flowList is an intrusive doubly linked list of flows.
type flowList struct {
	head, tail *flowState
	id         listID
}

func (l *flowList) pushFront(fs *flowState) {
	fs.list, fs.prev, fs.next = l.id, nil, l.head
	if l.head != nil {
		l.head.prev = fs
	} else {
		l.tail = fs
	}
	l.head = fs
}

func (l *flowList) remove(fs *flowState) {
	if fs.prev != nil {
		fs.prev.next = fs.next
	} else {
		l.head = fs.next
	}
	if fs.next != nil {
		fs.next.prev = fs.prev
	} else {
		l.tail = fs.prev
	}
	fs.list, fs.prev, fs.next = onNone, nil, nil
}
