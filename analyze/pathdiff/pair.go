package pathdiff

import (
	"cmp"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"rwin/analyze"
	"rwin/capture"
)

// numSignals is the number of pairing signals.
const numSignals = analyze.SignalTiming + 1

// Score thresholds of the pairing confidences; below pairLow two flows
// are not paired.
const (
	pairHigh   = 0.95
	pairMedium = 0.75
	pairLow    = 0.35 // a shared 4-tuple alone (0.4), with nothing against it
)

func pairConfidenceOf(score float64) analyze.PairConfidence {
	switch {
	case score >= pairHigh:
		return analyze.PairHigh
	case score >= pairMedium:
		return analyze.PairMedium
	}
	return analyze.PairLow
}

// Sampling of segments for pairing. Each direction of a flow keeps, per
// sampled signal, the sketchSize segments whose token hashes are smallest
// (a bottom-k sketch): both captures of one flow then sample the same
// segments wherever each capture starts and ends, in constant memory.
const (
	sampledSignals = 3  // timestamps, IP ID, payload
	sketchSize     = 16 // samples per signal and direction
	payloadPrefix  = 16 // payload bytes hashed
	// commonToken: a token seen in more flows than this in one capture
	// (a protocol's fixed greeting, the same TSval on parallel
	// connections) pairs nothing.
	commonToken = 4
)

// pairSample is one segment a pairSketch kept, with what the pairing and the
// offsets between the captures are computed from.
type pairSample struct {
	h       uint64 // token hash; the sketch keeps the smallest
	time    int64
	seq     capture.Seq
	tsval   uint32
	ipid    uint16
	ttl     uint8
	hasTS   bool
	hasIPID bool
	sig     analyze.PairSignal // the signal the token samples
	dup     bool               // the token recurred (a retransmission): pairs nothing, left out of the digest
	// indexed: the token is distinctive in its capture (in the token
	// index), so the joins pair through it.
	indexed bool
}

// pairSketch keeps the sketchSize samples with the smallest token hashes,
// sorted by hash.
type pairSketch struct{ s []pairSample }

func (k *pairSketch) add(v pairSample) {
	if n := len(k.s); n == sketchSize && v.h > k.s[n-1].h {
		return // the common case in a long flow: above every sample kept
	}
	// A binary search written out: slices.BinarySearchFunc's comparison
	// closure was 2.6% of rwin diff's CPU time.
	i, n := 0, len(k.s)
	for i < n {
		if m := int(uint(i+n) >> 1); k.s[m].h < v.h {
			i = m + 1
		} else {
			n = m
		}
	}
	if i < len(k.s) && k.s[i].h == v.h {
		k.s[i].dup = true
		return
	}
	if i >= sketchSize {
		return
	}
	if len(k.s) == sketchSize {
		k.s = k.s[:sketchSize-1]
	}
	if len(k.s) == cap(k.s) {
		// Most sketches hold a few samples (a short flow, a direction
		// with little data: 4.5 on average on the benchmark pair): room
		// for sketchMin at first, doubled as needed.
		grown := make([]pairSample, len(k.s), min(sketchSize, max(sketchMin, 2*cap(k.s))))
		copy(grown, k.s)
		k.s = grown
	}
	k.s = slices.Insert(k.s, i, v)
}

// sketchMin is the room a sketch takes at its first sample; the sketcher
// keeps sketches this small for reuse and drops larger ones, so that the
// memory of the sketches in progress follows what they hold.
const sketchMin = 4

// mix is SplitMix64's finalizer: tokens become uniformly spread hashes, so
// the smallest ones are a fair sample.
func mixToken(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// fnv64 is FNV-1a over b.
func fnvBytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// pairHit is one sampled segment found in both captures. It names the
// samples by their place in their flows' digests (flowDigest.samples):
// a self-diff of the benchmark capture holds millions of hits, and two
// pointers made each three times the size and gave the collector
// millions more pointers to scan.
type pairHit struct {
	signal analyze.PairSignal
	da, db uint8 // direction in A's and B's flow (0: from its first sender)
	ka, kb uint8 // index of the sample in A's and B's flow digest
}

// samples returns the two samples of hit h of c.
func (c *pairCandidate) samples(a, b *sideIndex, h pairHit) (sa, sb *pairSample) {
	return &a.flows[c.a].samples[h.ka], &b.flows[c.b].samples[h.kb]
}

// pairCandidate is a possible pairing of flow a (in A) with flow b (in B).
type pairCandidate struct {
	a, b    int // observed flow indices
	hits    []pairHit
	swapped bool // a's first sender is b's second
	score   float64
	signals [numSignals]int
	// theta is the flow's clock offset B − A, halfway between the
	// two directions' time differences; valid when thetaOK.
	theta   time.Duration
	thetaOK bool
	// delta holds, per direction of a, the median B − A time difference
	// of its hits and their spread.
	delta, spread [2]time.Duration
	deltaOK       [2]bool
	// What measure found that score weighs: the hits whose timestamps
	// and IP IDs agree or conflict, and the handshakes whose ISNs are the
	// same (and distinctive) or differ.
	tsAgree, tsConflict, ipAgree, ipConflict int32
	isnSame, isnDiff                         int32
}

// rolesSwapped reports whether B's flow has client and server the other
// way round from A's: the segments' directions from each flow's first
// sender, turned into directions from each flow's client. The first
// sender is not always the client: a SYN-ACK captured before its SYN.
func (c *pairCandidate) rolesSwapped(a, b *sideIndex) bool {
	return c.swapped != (a.flows[c.a].serverFirst() != b.flows[c.b].serverFirst())
}

// sideIndex is one capture's flows as the pairing sees them.
type sideIndex struct {
	// flows are the digests of the capture's flows, indexed by ID − 1.
	flows []flowDigest
	// isnFlows counts the flows whose SYN or SYN-ACK carried each ISN.
	isnFlows map[capture.Seq]int
	// tokens is the capture's token index (see buildTokenIndex).
	tokens []pairTokenRef
}

// newSideIndex indexes one capture's flows for the pairing.
func newSideIndex(flows []flowDigest) *sideIndex {
	s := &sideIndex{flows: flows, isnFlows: make(map[capture.Seq]int)}
	for i := range flows {
		f := &flows[i]
		if f.syn.seen {
			s.isnFlows[f.syn.isn]++
		}
		if f.synack.seen && (!f.syn.seen || f.synack.isn != f.syn.isn) {
			s.isnFlows[f.synack.isn]++
		}
	}
	s.tokens = buildTokenIndex(s)
	return s
}

// timingSlack is how far a flow's own clock offset may stray from the
// capture-wide one and still count as agreeing: one-way delays and
// queueing on real paths stay well below it.
const timingSlack = 2 * time.Second

// timingFar is a start-time disagreement no clock error explains once the
// clock offset is known from other flows.
const timingFar = time.Minute

// evaluate scores c. theta is the clock offset B − A measured on the
// surest pairs, valid when thetaOK.
func (c *pairCandidate) evaluate(a, b *sideIndex, theta time.Duration, thetaOK bool) {
	c.measure(a, b)
	c.scoreWith(a, b, theta, thetaOK)
}

// measure counts what c's hits and handshakes say, all but timing.
func (c *pairCandidate) measure(a, b *sideIndex) {
	same, swapped := 0, 0
	for _, h := range c.hits {
		if h.da == h.db {
			same++
		} else {
			swapped++
		}
	}
	c.swapped = swapped > same
	c.signals = [numSignals]int{}
	// Count each sampled segment once, and only hits whose sequence offset
	// agrees with the direction's most common one: a retransmission whose
	// copy in the other capture is another transmission must not count.
	offs, offsOK := c.seqOffsets(a, b)
	var tsAgree, tsConflict, ipAgree, ipConflict int
	var seenBuf [64]uint8
	seen := seenBuf[:0] // few: a scan beats a map
	var deltaBuf [2][32]time.Duration
	deltas := [2][]time.Duration{deltaBuf[0][:0], deltaBuf[1][:0]}
	for _, h := range c.hits {
		if (h.da != h.db) != c.swapped || slices.Contains(seen, h.ka) {
			continue
		}
		sa, sb := c.samples(a, b, h)
		if offsOK[h.da] && uint32(sb.seq-sa.seq) != offs[h.da] {
			continue
		}
		seen = append(seen, h.ka)
		c.signals[h.signal]++
		deltas[h.da] = append(deltas[h.da], time.Duration(sb.time-sa.time))
		if sa.hasTS && sb.hasTS {
			if sa.tsval == sb.tsval {
				tsAgree++
			} else {
				tsConflict++
			}
		}
		if sa.hasIPID && sb.hasIPID {
			if sa.ipid == sb.ipid {
				ipAgree++
			} else {
				ipConflict++
			}
		}
	}
	c.thetaOK = false
	for d := range 2 {
		c.deltaOK[d] = len(deltas[d]) > 0
		if c.deltaOK[d] {
			slices.Sort(deltas[d])
			c.delta[d] = deltas[d][len(deltas[d])/2]
			c.spread[d] = deltas[d][len(deltas[d])-1] - deltas[d][0]
		}
	}
	switch {
	case c.deltaOK[0] && c.deltaOK[1]:
		c.theta, c.thetaOK = (c.delta[0]+c.delta[1])/2, true
	case c.deltaOK[0]:
		c.theta, c.thetaOK = c.delta[0], true
	case c.deltaOK[1]:
		c.theta, c.thetaOK = c.delta[1], true
	}

	A, B := &a.flows[c.a], &b.flows[c.b]
	isnSame, isnDiff := 0, 0
	if !c.rolesSwapped(a, b) {
		for _, p := range [...][2]handshakeDigest{{A.syn, B.syn}, {A.synack, B.synack}} {
			if p[0].seen && p[1].seen {
				if p[0].isn == p[1].isn {
					// An ISN several flows share (a broken or crafted
					// stack) tells none of them apart.
					if a.isnFlows[p[0].isn] == 1 && b.isnFlows[p[1].isn] == 1 {
						isnSame++
					}
				} else {
					isnDiff++
				}
			}
		}
	}
	c.signals[analyze.SignalISN] = isnSame
	if A.key == B.key {
		c.signals[analyze.SignalTuple] = 1
	}
	c.tsAgree, c.tsConflict, c.ipAgree, c.ipConflict = int32(tsAgree), int32(tsConflict), int32(ipAgree), int32(ipConflict)
	c.isnSame, c.isnDiff = int32(isnSame), int32(isnDiff)
}

// scoreWith scores c from what measure found and its agreement with the
// clock offset theta, valid when thetaOK.
func (c *pairCandidate) scoreWith(a, b *sideIndex, theta time.Duration, thetaOK bool) {
	A, B := &a.flows[c.a], &b.flows[c.b]
	tsAgree, tsConflict, ipAgree, ipConflict := c.tsAgree, c.tsConflict, c.ipAgree, c.ipConflict
	isnSame, isnDiff := int(c.isnSame), int(c.isnDiff)
	c.signals[analyze.SignalTiming] = 0
	timing := 0 // 1 agrees with the clock offset, -1 contradicts it
	if thetaOK {
		switch {
		case c.thetaOK && (c.theta-theta).Abs() <= timingSlack:
			timing = 1
		case c.thetaOK:
			timing = -1
		default:
			off := (time.Duration(B.start-A.start) - theta).Abs()
			if off <= timingSlack {
				timing = 1
			} else if off > timingFar {
				timing = -1
			}
		}
	}
	if timing > 0 {
		c.signals[analyze.SignalTiming] = 1
	}

	miss := math.Pow(0.35, float64(c.signals[analyze.SignalTimestamps])) *
		math.Pow(0.45, float64(c.signals[analyze.SignalIPID])) *
		max(math.Pow(0.75, float64(c.signals[analyze.SignalPayload])), 0.4) *
		math.Pow(0.1, float64(isnSame))
	if c.signals[analyze.SignalTuple] > 0 {
		miss *= 0.6
	}
	if timing > 0 {
		miss *= 0.5
	}
	score := 1 - miss
	// Contradictions: the same content with other timestamps (or IP IDs)
	// and no segment agreeing on them is another connection carrying the
	// same bytes — e.g. two runs of one test.
	if tsAgree == 0 && tsConflict > 0 {
		score *= 0.05
	} else if tsAgree+ipAgree == 0 && ipConflict > 0 {
		score *= 0.2
	}
	if isnDiff == 2 && tsAgree+ipAgree == 0 {
		score *= 0.3 // both ends' ISNs differ: only a full proxy or another connection
	}
	if timing < 0 {
		score *= 0.1
	}
	c.score = score
}

// seqOffsets returns, per direction of a, the most common B − A sequence
// offset among the hits in c's orientation (the smallest of equally
// common ones), and whether there was one.
func (c *pairCandidate) seqOffsets(a, b *sideIndex) (off [2]uint32, ok [2]bool) {
	var buf [64]uint32
	for d := range 2 {
		offs := buf[:0]
		for _, h := range c.hits {
			if int(h.da) == d && (h.da != h.db) == c.swapped {
				sa, sb := c.samples(a, b, h)
				offs = append(offs, uint32(sb.seq-sa.seq))
			}
		}
		if len(offs) == 0 {
			continue
		}
		slices.Sort(offs)
		bestN := 0
		for rest := offs; len(rest) > 0; {
			n := 1
			for n < len(rest) && rest[n] == rest[0] {
				n++
			}
			if n > bestN { // ascending: a tie keeps the smaller
				off[d], bestN = rest[0], n
			}
			rest = rest[n:]
		}
		ok[d] = true
	}
	return off, ok
}

// evaluateAll evaluates the candidates, each on its own (evaluate writes
// only its candidate), on every CPU when there are many: the last window
// of a pair of captures is paired while nothing else runs. With
// rescore, the candidates were evaluated before and only their timing is
// weighed again, against theta.
func evaluateAll(cands []*pairCandidate, a, b *sideIndex, theta time.Duration, thetaOK, rescore bool) {
	each := func(cs []*pairCandidate) {
		for _, c := range cs {
			if rescore {
				c.scoreWith(a, b, theta, thetaOK)
			} else {
				c.evaluate(a, b, theta, thetaOK)
			}
		}
	}
	parts := min(runtime.GOMAXPROCS(0), len(cands)/evaluatePart)
	if parts < 2 {
		each(cands)
		return
	}
	var wg sync.WaitGroup
	for p := range parts {
		wg.Go(func() { each(cands[p*len(cands)/parts : (p+1)*len(cands)/parts]) })
	}
	wg.Wait()
}

// evaluatePart is the fewest candidates worth a goroutine of their own.
const evaluatePart = 4096

// assignPairs scores the candidates, measures the clock offset on the
// surest ones (high), scores again with timing, and pairs greedily, best
// first, each flow at most once. Without a sure candidate it scores with
// prior, the offset measured before, when priorOK. It returns the chosen
// candidates in the order of A's flows.
func assignPairs(a, b *sideIndex, prior time.Duration, priorOK bool) (chosen, high []*pairCandidate) {
	cands := pairCandidates(a, b)
	a.tokens, b.tokens = nil, nil // spent: free them for what follows
	evaluateAll(cands, a, b, 0, false, false)
	var thetas []time.Duration
	for _, c := range cands {
		if c.score >= pairHigh && c.thetaOK {
			high = append(high, c)
			thetas = append(thetas, c.theta)
		}
	}
	theta, thetaOK := prior, priorOK
	if len(thetas) > 0 {
		slices.Sort(thetas)
		theta, thetaOK = thetas[len(thetas)/2], true
	}
	if thetaOK {
		evaluateAll(cands, a, b, theta, true, true)
	}
	slices.SortStableFunc(cands, func(x, y *pairCandidate) int {
		return cmp.Or(cmp.Compare(y.score, x.score), cmp.Compare(len(y.hits), len(x.hits)))
	})
	takenA, takenB := make(map[int]bool), make(map[int]bool)
	for _, c := range cands {
		if c.score < pairLow || takenA[c.a] || takenB[c.b] {
			continue
		}
		takenA[c.a], takenB[c.b] = true, true
		chosen = append(chosen, c)
	}
	// Report pairs in the order of A's flows.
	slices.SortFunc(chosen, func(x, y *pairCandidate) int { return cmp.Compare(x.a, y.a) })
	return chosen, high
}
