package analyze

import (
	"math"
	"runtime"
	"sync"
	"time"

	"rwin/capture"
)

// One capture on several CPUs. A reader goroutine reads, decodes and
// hashes the segments, as Run's pipeline does, and hands every batch to N
// shards: each is a flow table of its own that analyzes the segments of
// the flows in its partitions (flowPartition, the same both ways, so both
// directions of a flow land in one shard). The goroutine that called Run
// merges what the shards did back into the one table's order and emits
// the flows, so that the output is the single table's, to the byte:
//
//   - Time is the segment's index in the capture: the reader stamps every
//     segment with the table's clock (the latest time so far) and marks
//     the segments after which the table's once-a-second expiry sweep
//     runs; every shard sweeps there, at that clock.
//   - A shard records what changes the table, in order: a flow created
//     (at its segment), a flow finished (by a new incarnation of its
//     4-tuple or an eviction, at the segment; by a sweep or the final
//     flush, ordered within it by last packet, as finishQuiet orders). The
//     merge takes these events of a batch from every shard by that key,
//     numbers the flows in the order they were created, counts live and
//     peak flows and unanswered SYNs, and emits.
//   - Eviction picks the least recently active flow of the whole table.
//     The reader knows how many flows were live when the merge last caught
//     up, and that a segment creates at most one: while that bound stays
//     under --max-flows no shard can be full, and the shards run freely.
//     A batch that could reach the cap is analyzed by the merging
//     goroutine, segment by segment across the shards, which evicts the
//     tail of their lists that was moved there first.
//   - Duplicate copies are told by a fingerprint table split by partition
//     (recentSlots), so that each shard sees the same collisions.
//
// Series are not recorded in shards (Config.Series runs unsharded), nor
// is an idle timeout kept (rwin live).

// shardBatches is the number of batches between the reader, the shards
// and the merge: a batch at each stage, and one to spare for each.
const shardBatches = 8

// Phases order what happens at one segment: a new incarnation finishes
// the flow of its 4-tuple, an eviction makes room, the new flow is
// created; then the sweep finishes flows list by list (phaseSweep plus
// the listID, as expire and Flush go through the lists).
const (
	phaseReplaced = iota
	phaseEvicted
	phaseCreated
	phaseSweep
)

// sweepAfter marks, in shardBatch.owner, a segment after which the
// table's expiry sweep runs.
const sweepAfter = 0x80

// flushAt is the time of the events of the final flush: after every
// segment.
const flushAt = math.MaxUint64

// shardBatch is a batch of segments on its way from the reader through
// every shard to the merge, and back. Its slices are reused.
type shardBatch struct {
	segs   [batchSegments]capture.Segment
	hashes [batchSegments]uint64
	// clock is the table's clock after each segment.
	clock [batchSegments]int64
	// owner is each segment's shard, with sweepAfter.
	owner [batchSegments]uint8
	n     int
	first uint64 // index of segs[0] in the capture's segments
	// serial: the flow cap may be reached in this batch; the merge
	// analyzes it, the shards only pass it on.
	serial bool
	// events holds what each shard did, in order; freed the states of
	// flows the merge emitted, for their shard to reuse.
	events [][]shardEvent
	freed  [][]*flowState
}

// shardEvent is a flow created or finished by a shard.
type shardEvent struct {
	at    uint64 // the segment's index, or flushAt
	phase uint8
	last  uint64 // a sweep's order: the flow's last packet
	fs    *flowState
}

// before orders events as the single table would have made them.
func (e *shardEvent) before(f *shardEvent) bool {
	if e.at != f.at {
		return e.at < f.at
	}
	if e.phase != f.phase {
		return e.phase < f.phase
	}
	return e.last < f.last
}

// shard is one flow table of a sharded run.
type shard struct {
	a      *Analyzer
	g      *shardGroup
	idx    uint8
	at     uint64 // the segment being analyzed
	phase  uint8  // of the flows finished now
	sweep  bool   // the flows finished now are a sweep's (or the flush's)
	events []shardEvent
}

// shardGroup is the shards of a run and the merge's state.
type shardGroup struct {
	shards []*shard
	max    int // Config.MaxFlows
	emit   func(*Flow)
	// Merge: flows numbered, live and peak, evictions, unanswered SYNs.
	nextID     uint64
	live, peak int
	evicted    uint64
	unanswered unansweredTable
	heads      []int
	// What the reader's bound needs: live flows after the segments merged.
	mu           sync.Mutex
	mergedLive   int
	mergedSegs   uint64
	serial       bool // the merge is analyzing a serial batch
	flushEvents  [][]shardEvent
	discardFreed [][]*flowState
}

// shardCount is how many shards Run uses: one per CPU of cfg.CPUs, none
// (0) below minShardCPUs, when series are recorded, an Observer watches
// (it is called on one goroutine, in packet order) or flows idle out.
func shardCount(cfg Config) int {
	n := cfg.CPUs
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	n = min(n, flowPartitions)
	if n < minShardCPUs || cfg.Series != nil || cfg.Observer != nil || cfg.IdleTimeout > 0 {
		return 0
	}
	return n
}

// minShardCPUs is the fewest CPUs the shards run on. On two, the reader
// and one analyzer (Run's pipeline) keep both busy with less handing over
// than a reader and two shards, and are the faster; the pipeline cannot
// use a third, the shards can.
const minShardCPUs = 3

func newShardGroup(cfg Config, emit func(*Flow), n int) *shardGroup {
	g := &shardGroup{emit: emit, heads: make([]int, n),
		flushEvents: make([][]shardEvent, n), discardFreed: make([][]*flowState, n)}
	for i := range n {
		a := New(cfg, nil)
		s := &shard{a: a, g: g, idx: uint8(i)}
		a.shard = s
		if i > 0 {
			a.seed = g.shards[0].a.seed // the reader hashes once for all
		}
		g.shards = append(g.shards, s)
	}
	g.max = g.shards[0].a.cfg.MaxFlows
	return g
}

func (g *shardGroup) newBatch() *shardBatch {
	n := len(g.shards)
	return &shardBatch{events: make([][]shardEvent, n), freed: make([][]*flowState, n)}
}

// shardedRun is Run on n shards.
func (s *Summary) shardedRun(src capture.Source, keep func(*capture.Packet) bool, cfg Config, emit func(*Flow), n int) {
	g := newShardGroup(cfg, emit, n)
	free := make(chan *shardBatch, shardBatches)
	for range shardBatches {
		free <- g.newBatch()
	}
	ins := make([]chan *shardBatch, n)
	outs := make([]chan *shardBatch, n)
	for i, sh := range g.shards {
		ins[i], outs[i] = make(chan *shardBatch, shardBatches), make(chan *shardBatch, shardBatches)
		go sh.run(ins[i], outs[i])
	}
	resume := make(chan struct{}, 1)
	go s.readShards(src, keep, g, free, ins, resume)
	for {
		var b *shardBatch
		for _, out := range outs {
			b = <-out
		}
		if b == nil {
			break // the reader is done, and so every shard
		}
		if b.serial {
			g.analyzeSerial(b)
			resume <- struct{}{}
		}
		g.merge(b.events, b.freed)
		g.mu.Lock()
		g.mergedLive, g.mergedSegs = g.live, b.first+uint64(b.n)
		g.mu.Unlock()
		free <- b
	}
	g.flush()
	st := Stats{PeakFlows: g.peak, Evicted: g.evicted}
	for _, sh := range g.shards {
		st.Segments += sh.a.stats.Segments
		st.Flows += sh.a.stats.Flows
		st.Duplicates += sh.a.stats.Duplicates
	}
	s.Analyzer = st
	s.Unanswered = g.unanswered.result()
}

// readShards reads src into batches for the shards: decoded, hashed,
// given their shard, clock and sweeps, and marked serial when the flow
// cap may be reached. It alone writes s until it closes the shards'
// channels.
func (s *Summary) readShards(src capture.Source, keep func(*capture.Packet) bool, g *shardGroup,
	free <-chan *shardBatch, ins []chan *shardBatch, resume <-chan struct{}) {
	defer func() {
		for _, in := range ins {
			close(in)
		}
	}()
	var (
		dec              capture.Decoder
		pkt              capture.Packet
		clock, lastSweep int64
		at, dispatched   uint64
	)
	seed, n := g.shards[0].a.seed, len(g.shards)
	for b := range free {
		b.n = 0
		more := true
		for more && b.n < batchSegments {
			if more = s.next(src, &pkt); more && s.decode(&pkt, keep, &dec, &b.segs[b.n]) {
				b.n++
			}
		}
		b.first = at
		for i := range b.n {
			seg := &b.segs[i]
			b.hashes[i] = segmentHash(seg, seed)
			b.owner[i] = uint8(flowPartition(seg) % n)
			clock = max(clock, seg.Time)
			b.clock[i] = clock
			if clock-lastSweep >= int64(time.Second) {
				lastSweep = clock
				b.owner[i] |= sweepAfter
			}
		}
		at += uint64(b.n)
		g.mu.Lock()
		live, merged := g.mergedLive, g.mergedSegs
		g.mu.Unlock()
		// Each segment creates at most one flow: below the cap by a
		// batch's worth, no shard can need to evict.
		b.serial = live+int(dispatched-merged)+b.n > g.max
		dispatched += uint64(b.n)
		for _, in := range ins {
			in <- b
		}
		if b.serial {
			<-resume
		}
		if !more {
			return
		}
	}
}

// run analyzes the shard's segments of every batch, passing the batches
// on in order.
func (sh *shard) run(in <-chan *shardBatch, out chan<- *shardBatch) {
	defer close(out)
	for b := range in {
		sh.reuse(b)
		if !b.serial {
			sh.begin(b)
			for i := range b.n {
				o := b.owner[i]
				if o&^sweepAfter == sh.idx {
					sh.add(b, i)
				}
				if o&sweepAfter != 0 {
					sh.expire(b, i)
				}
			}
			sh.end(b)
		}
		out <- b
	}
}

// reuse takes back the states of the flows the merge emitted.
func (sh *shard) reuse(b *shardBatch) {
	freed := b.freed[sh.idx]
	for _, fs := range freed {
		sh.a.recycle(fs)
	}
	clear(freed)
	b.freed[sh.idx] = freed[:0]
}

func (sh *shard) begin(b *shardBatch) { sh.events = b.events[sh.idx][:0] }

func (sh *shard) end(b *shardBatch) {
	b.events[sh.idx] = sh.events
	sh.events = nil
}

// add analyzes segment i of b, at the table's clock.
func (sh *shard) add(b *shardBatch, i int) {
	a := sh.a
	a.stats.Segments++
	a.clock = b.clock[i]
	sh.at, sh.phase = b.first+uint64(i), phaseReplaced
	a.analyze(&b.segs[i], b.hashes[i])
}

// expire runs the table's sweep after segment i of b.
func (sh *shard) expire(b *shardBatch, i int) {
	sh.a.clock = b.clock[i]
	sh.at, sh.sweep = b.first+uint64(i), true
	sh.a.expire()
	sh.sweep = false
}

func (sh *shard) created(fs *flowState) {
	sh.events = append(sh.events, shardEvent{at: sh.at, phase: phaseCreated, fs: fs})
}

// finished records a flow finished while on list l.
func (sh *shard) finished(fs *flowState, l listID) {
	phase := sh.phase
	if sh.sweep {
		phase = phaseSweep + uint8(l)
	}
	sh.events = append(sh.events, shardEvent{at: sh.at, phase: phase, last: fs.LastPacket, fs: fs})
}

// full reports whether the shards together hold the flow cap; only a
// serial batch can get there (see readShards).
func (sh *shard) full() bool {
	g := sh.g
	if !g.serial {
		return false
	}
	live := 0
	for _, s := range g.shards {
		live += s.a.live
	}
	return live >= g.max
}

// evict finishes the least recently active flow of all the shards, at
// segment at: as evictOne, the tail of the ended lists first, then of
// the transient, then of the open ones; of the shards' tails, the one
// moved to its list's head first.
func (g *shardGroup) evict(at uint64) {
	for _, id := range [...]listID{onEnded, onTransient, onOpen} {
		var victim *shard
		var old *flowState
		for _, s := range g.shards {
			fs := s.a.list(id).tail
			if fs != nil && (old == nil || pushedBefore(fs, old)) {
				victim, old = s, fs
			}
		}
		if old == nil {
			continue
		}
		old.Evicted = true
		g.evicted++
		victim.at, victim.phase = at, phaseEvicted
		victim.a.finish(old)
		victim.phase = phaseReplaced
		return
	}
}

// pushedBefore reports whether x was moved to its list's head before y:
// by the clock then, and at the same clock by the segment that moved it
// (the low 32 bits of its index, wrap-safe: ties on the clock come from
// segments close together).
func pushedBefore(x, y *flowState) bool {
	if x.moved != y.moved {
		return x.moved < y.moved
	}
	return int32(x.series-y.series) < 0
}

// analyzeSerial analyzes batch b segment by segment across the shards,
// from the merging goroutine while the shards wait: the flow cap may be
// reached, and eviction looks at every shard.
func (g *shardGroup) analyzeSerial(b *shardBatch) {
	g.serial = true
	for _, sh := range g.shards {
		sh.begin(b)
	}
	for i := range b.n {
		o := b.owner[i]
		g.shards[o&^sweepAfter].add(b, i)
		if o&sweepAfter != 0 {
			for _, sh := range g.shards {
				sh.expire(b, i)
			}
		}
	}
	for _, sh := range g.shards {
		sh.end(b)
	}
	g.serial = false
}

// merge takes the shards' events of one batch in the single table's
// order: it numbers the flows created, emits those finished and hands
// their states back through freed.
func (g *shardGroup) merge(events [][]shardEvent, freed [][]*flowState) {
	clear(g.heads)
	for {
		best := -1
		for i, l := range events {
			if h := g.heads[i]; h < len(l) && (best < 0 || l[h].before(&events[best][g.heads[best]])) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		e := &events[best][g.heads[best]]
		g.heads[best]++
		if e.phase == phaseCreated {
			g.nextID++
			e.fs.ID = g.nextID
			g.live++
			g.peak = max(g.peak, g.live)
			continue
		}
		g.live--
		g.unanswered.add(&e.fs.Flow)
		g.emit(&e.fs.Flow)
		e.fs.release()
		freed[best] = append(freed[best], e.fs)
	}
	for i := range events {
		clear(events[i])
		events[i] = events[i][:0]
	}
}

// flush finishes every flow still in the shards once they are done, as
// Flush does, and emits them in its order.
func (g *shardGroup) flush() {
	for i, sh := range g.shards {
		sh.events = g.flushEvents[i][:0]
		sh.at, sh.sweep = flushAt, true
		sh.a.Flush()
		g.flushEvents[i] = sh.events
	}
	g.merge(g.flushEvents, g.discardFreed)
}

// list returns the table's list id.
func (a *Analyzer) list(id listID) *flowList {
	switch id {
	case onEnded:
		return &a.ended
	case onTransient:
		return &a.transient
	}
	return &a.open
}
