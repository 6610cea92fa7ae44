package pathdiff

import (
	"encoding/binary"
	"math"
	"os"
	"slices"
	"time"

	"rwin/analyze"
	"rwin/capture"
)

// pairRecord is what the pairing settles about one pair from the two
// flows' digests, before the clock offset of the whole diff is known:
// the pairing works on a window of the captures at a time (see
// pairWindow) and spools each record, and the second pass turns it into
// a pairPlan once every window has been paired (pairRecord.plan).
type pairRecord struct {
	a, b     int32 // flow IDs − 1
	score    float64
	signals  [numSignals]int32
	swapped  bool // client and server are the other way round in B
	xSwapped bool // B's first sender is A's second (see pairCandidate.swapped)
	nat      bool
	// serverFirst: A's first sender is its server.
	serverFirst bool
	// The pair's own clock offset and, per direction of A's flow, the
	// median B − A time difference of its matched samples and their
	// spread (see pairCandidate).
	theta         time.Duration
	thetaOK       bool
	delta, spread [2]time.Duration
	deltaOK       [2]bool
	dirs          [2]dirRecord
}

// dirRecord is what the pairing settles about one direction of A's flow.
type dirRecord struct {
	seqOff         capture.Seq // B − A
	ok             bool        // seqOff known
	useTS, useIPID bool
	// ttlUpstream is the capture nearer the sender judged by TTLs, for
	// when the timing cannot tell.
	ttlUpstream analyze.Capture
}

// newPairRecord settles what the digests say about a chosen candidate.
func newPairRecord(c *pairCandidate, a, b *sideIndex) pairRecord {
	A, B := &a.flows[c.a], &b.flows[c.b]
	r := pairRecord{a: A.id, b: B.id, score: c.score, swapped: c.rolesSwapped(a, b), xSwapped: c.swapped,
		nat: A.key != B.key, serverFirst: A.serverFirst(), theta: c.theta, thetaOK: c.thetaOK,
		delta: c.delta, spread: c.spread, deltaOK: c.deltaOK}
	for s := range numSignals {
		r.signals[s] = int32(c.signals[s])
	}
	offs, offsOK := c.seqOffsets(a, b)
	for d := range 2 {
		dr := &r.dirs[d]
		if offsOK[d] {
			dr.seqOff, dr.ok = capture.Seq(offs[d]), true
		} else if !r.swapped {
			// No sampled segment of this direction matched: the ISNs give
			// the offset when both captures hold the handshake.
			hsA, hsB := A.answered, B.answered
			if (d == 0) == r.serverFirst { // the direction runs from server to client
				hsA, hsB = A.synack, B.synack
			}
			if hsA.seen && hsB.seen {
				dr.seqOff, dr.ok = hsB.isn-hsA.isn, true
			}
		}
		dr.useTS, dr.useIPID = c.preserved(a, b, uint8(d))
		dr.ttlUpstream = c.upstreamByTTL(a, b, uint8(d))
	}
	return r
}

// plan settles the pair for the second pass, given the clock offset B − A
// measured over the whole diff (valid when thetaOK) and align, how far
// the second pass moves B's clock.
func (r *pairRecord) plan(theta time.Duration, thetaOK bool, align time.Duration) pairPlan {
	pl := pairPlan{a: int(r.a), b: int(r.b), score: r.score, swapped: r.swapped, xSwapped: r.xSwapped, nat: r.nat}
	for s := range numSignals {
		if r.signals[s] > 0 {
			pl.signals = append(pl.signals, analyze.SignalCount{Signal: analyze.PairSignal(s), Count: int(r.signals[s])})
		}
	}
	// A's first sender may be its client or its server.
	if r.serverFirst {
		pl.cToS = 1
	}
	if !thetaOK {
		theta, thetaOK = r.theta, r.thetaOK
	}
	for d := range 2 {
		dp, dr := &pl.dirs[d], &r.dirs[d]
		dp.seqOff, dp.ok, dp.useTS, dp.useIPID = dr.seqOff, dr.ok, dr.useTS, dr.useIPID
	}
	// Which capture saw each direction first: a segment reaches the
	// downstream capture one one-way delay after the upstream one, so the
	// direction whose B − A difference is larger runs from A to B.
	for d := range 2 {
		dp := &pl.dirs[d]
		// lag is how much later B saw the direction's segments than A,
		// net of the clock offset: positive when A is upstream.
		var lag time.Duration
		switch {
		case r.deltaOK[0] && r.deltaOK[1] && r.delta[d] != r.delta[1-d]:
			lag = r.delta[d] - (r.delta[0]+r.delta[1])/2
		case r.deltaOK[d] && thetaOK:
			lag = r.delta[d] - theta
		case r.deltaOK[1-d] && thetaOK:
			lag = -(r.delta[1-d] - theta)
		}
		switch {
		case lag > 0:
			dp.upstream = analyze.CaptureA
		case lag < 0:
			dp.upstream = analyze.CaptureB
		default:
			dp.upstream = r.dirs[d].ttlUpstream
		}
		if lag != 0 && (r.deltaOK[0] && r.deltaOK[1] || thetaOK) {
			dp.delay, dp.delayOK = lag.Abs(), true
		}
		// expect is how much later, on the merged time line, B's copy of a
		// segment comes than A's.
		switch {
		case r.deltaOK[d]:
			dp.expect = r.delta[d] - align
		case r.thetaOK:
			dp.expect = r.theta - align
		}
		dp.jitter = diffMinJitter + 2*min(r.spread[d], diffMaxSpread)
		dp.horizon = dp.expect.Abs() + diffMatchSlack + dp.jitter
	}
	pl.clientSide = clientSideOf(pl.dirs[pl.cToS].upstream, pl.dirs[1-pl.cToS].upstream)
	return pl
}

// clientSideOf is the capture nearer the client, given the upstream
// capture of the client-to-server and the server-to-client direction.
func clientSideOf(cToS, sToC analyze.Capture) analyze.Capture {
	switch {
	case cToS != analyze.CaptureUnknown:
		return cToS
	case sToC != analyze.CaptureUnknown:
		return sToC.Other()
	}
	return analyze.CaptureUnknown
}

// pairRecordSize is the size of an encoded pairRecord.
const pairRecordSize = 4 + 4 + 8 + 4*int(numSignals) + 1 + 8 + 3*2*8 + 2*(4+1+1)

// encode writes r to b (pairRecordSize bytes). The record's flags go in
// one byte: swapped, xSwapped, nat, serverFirst, thetaOK, deltaOK[0..1].
func (r *pairRecord) encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(r.a))
	le.PutUint32(b[4:], uint32(r.b))
	le.PutUint64(b[8:], math.Float64bits(r.score))
	o := 16
	for s := range numSignals {
		le.PutUint32(b[o:], uint32(r.signals[s]))
		o += 4
	}
	b[o] = bits(r.swapped, r.xSwapped, r.nat, r.serverFirst, r.thetaOK, r.deltaOK[0], r.deltaOK[1])
	o++
	for _, v := range [...]time.Duration{r.theta, r.delta[0], r.delta[1], r.spread[0], r.spread[1]} {
		le.PutUint64(b[o:], uint64(v))
		o += 8
	}
	for d := range 2 {
		dr := &r.dirs[d]
		le.PutUint32(b[o:], uint32(dr.seqOff))
		b[o+4] = bits(dr.ok, dr.useTS, dr.useIPID)
		b[o+5] = byte(dr.ttlUpstream)
		o += 6
	}
}

// decode reads a record encode wrote.
func (r *pairRecord) decode(b []byte) {
	le := binary.LittleEndian
	r.a, r.b = int32(le.Uint32(b[0:])), int32(le.Uint32(b[4:]))
	r.score = math.Float64frombits(le.Uint64(b[8:]))
	o := 16
	for s := range numSignals {
		r.signals[s] = int32(le.Uint32(b[o:]))
		o += 4
	}
	f := b[o]
	r.swapped, r.xSwapped, r.nat, r.serverFirst = f&1 != 0, f&2 != 0, f&4 != 0, f&8 != 0
	r.thetaOK, r.deltaOK[0], r.deltaOK[1] = f&16 != 0, f&32 != 0, f&64 != 0
	o++
	for _, v := range [...]*time.Duration{&r.theta, &r.delta[0], &r.delta[1], &r.spread[0], &r.spread[1]} {
		*v = time.Duration(le.Uint64(b[o:]))
		o += 8
	}
	for d := range 2 {
		dr := &r.dirs[d]
		dr.seqOff = capture.Seq(le.Uint32(b[o:]))
		dr.ok, dr.useTS, dr.useIPID = b[o+4]&1 != 0, b[o+4]&2 != 0, b[o+4]&4 != 0
		dr.ttlUpstream = analyze.Capture(int8(b[o+5]))
		o += 6
	}
}

// bits packs flags into a byte, the first in the lowest bit.
func bits(flags ...bool) byte {
	var b byte
	for i, f := range flags {
		if f {
			b |= 1 << i
		}
	}
	return b
}

// recordSpool holds the pair records by A's flow ID, in memory while
// they are few and in a temporary file beyond spoolInMemory bytes, so
// the diff's memory does not grow with the pairs it found.
type recordSpool struct {
	mem  []byte
	file *os.File
	// spilled: the records went to a file, or were to and no file
	// could be made (they stay in memory then).
	spilled bool
	// err is the first write to the file that failed.
	err error
}

// spoolInMemory is how many bytes of records stay in memory: about 700
// pairs, so that small diffs touch no file.
const spoolInMemory = 64 << 10

// put stores r at its A flow's place.
func (s *recordSpool) put(r *pairRecord) {
	var buf [pairRecordSize]byte
	r.encode(buf[:])
	off := int64(r.a) * int64(pairRecordSize)
	if !s.spilled && off+int64(pairRecordSize) > spoolInMemory {
		s.spill()
	}
	if s.file == nil {
		if s.mem == nil {
			s.mem = make([]byte, 0, spoolInMemory)
		}
		if need := int(off) + pairRecordSize; len(s.mem) < need {
			if need > cap(s.mem) { // no file could be made
				s.mem = slices.Grow(s.mem, need-len(s.mem))
			}
			s.mem = s.mem[:need]
		}
		copy(s.mem[off:], buf[:])
		return
	}
	if _, err := s.file.WriteAt(buf[:], off); err != nil && s.err == nil {
		s.err = err
	}
}

// spill moves the records to a temporary file.
func (s *recordSpool) spill() {
	s.spilled = true
	f, err := os.CreateTemp("", "rwin-diff-*.pairs")
	if err != nil {
		return // no room for a file: the records stay in memory
	}
	s.file = f
	if _, err := f.WriteAt(s.mem, 0); err != nil {
		s.err = err
	}
	s.mem = nil
}

// get reads the record of A's flow a (ID − 1) into r.
func (s *recordSpool) get(a int32, r *pairRecord) error {
	off := int(a) * pairRecordSize
	if s.file == nil {
		r.decode(s.mem[off : off+pairRecordSize])
		return nil
	}
	var buf [pairRecordSize]byte
	if _, err := s.file.ReadAt(buf[:], int64(off)); err != nil {
		return err
	}
	r.decode(buf[:])
	return nil
}

// close removes the temporary file, if any.
func (s *recordSpool) close() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
		s.file = nil
	}
}
