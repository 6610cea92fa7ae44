package pathdiff

import (
	"cmp"
	"slices"

	"rwin/analyze"
	"rwin/capture"
)

// pairTokenRef is one sample of a capture's token index: the k-th of its
// flow's samples. It holds no pointer, so the collector skips the index.
type pairTokenRef struct {
	h    uint64
	flow int32
	dir  uint8
	k    uint8
	// sig is the sample's signal, kept here (in what was padding) since
	// reading it from the sample, in token order, missed the cache at
	// every hit: 60% of pairCandidates' time.
	sig analyze.PairSignal
}

// sample returns the sample r refers to.
func (s *sideIndex) sample(r pairTokenRef) *pairSample { return &s.flows[r.flow].samples[r.k] }

// buildTokenIndex lists the distinctive tokens of a capture's samples,
// sorted by token and, within a token, by flow: one flat slice rather
// than a map of slices, which cost the benchmark capture's self-diff
// 218 MB of allocations and a third of the pairing's time.
func buildTokenIndex(s *sideIndex) []pairTokenRef {
	n := 0
	for fi := range s.flows {
		n += len(s.flows[fi].samples)
	}
	idx := make([]pairTokenRef, 0, n)
	for fi := range s.flows {
		f := &s.flows[fi]
		for d := range 2 {
			for sig := range sampledSignals {
				k := d*sampledSignals + sig
				for i := f.at[k]; i < f.at[k+1]; i++ {
					idx = append(idx, pairTokenRef{f.samples[i].h, int32(fi), uint8(d), uint8(i), f.samples[i].sig})
				}
			}
		}
	}
	// Within a token, by flow and then in sample order: the order the
	// refs were appended in, which a stable sort keeps.
	sortByToken(idx)
	out := idx[:0]
	for rest := idx; len(rest) > 0; {
		g := tokenGroup(rest)
		if tokenFlows(g) <= commonToken {
			for _, r := range g {
				s.sample(r).indexed = true
			}
			out = append(out, g...)
		}
		rest = rest[len(g):]
	}
	return out
}

// sortByToken sorts refs by token, then flow, then sample: an in-place
// most-significant-digit radix sort (a byte of the token at a time), down
// to groups small enough for a comparison sort. Tokens are hashes, so a
// comparison sort of them all learns little from each comparison: pdqsort
// was a quarter of the pairing's time on the benchmark pair, and a stable
// radix sort's second buffer 34 MB of its peak.
func sortByToken(refs []pairTokenRef) { sortByTokenFrom(refs, 56) }

// sortByTokenFrom sorts refs whose tokens agree above bit shift+8.
func sortByTokenFrom(refs []pairTokenRef, shift int) {
	switch {
	case len(refs) < 64:
		// An insertion sort: most groups hold a few refs by now, and a
		// generic sort's comparison function was half the sorting time.
		for i := 1; i < len(refs); i++ {
			for j := i; j > 0 && refBefore(&refs[j], &refs[j-1]); j-- {
				refs[j], refs[j-1] = refs[j-1], refs[j]
			}
		}
		return
	case shift < 0:
		// One token, in many flows (a common one).
		slices.SortFunc(refs, func(x, y pairTokenRef) int {
			return cmp.Or(cmp.Compare(x.flow, y.flow), cmp.Compare(x.k, y.k))
		})
		return
	}
	digit := func(r *pairTokenRef) int { return int(byte(r.h >> shift)) }
	var end, next [256]int
	for i := range refs {
		end[digit(&refs[i])]++
	}
	at := 0
	for b := range end {
		next[b] = at
		at += end[b]
		end[b] = at
	}
	// Each ref goes into its byte's bucket, the one it displaces on to
	// that one's, until a ref belongs where the cycle began.
	for b := range end {
		for next[b] < end[b] {
			r := refs[next[b]]
			for d := digit(&r); d != b; d = digit(&r) {
				refs[next[d]], r = r, refs[next[d]]
				next[d]++
			}
			refs[next[b]] = r
			next[b]++
		}
	}
	start := 0
	for b := range end {
		sortByTokenFrom(refs[start:end[b]], shift-8)
		start = end[b]
	}
}

// refBefore orders refs by token, then flow, then sample; no two refs
// of an index are equal in all three.
func refBefore(x, y *pairTokenRef) bool {
	if x.h != y.h {
		return x.h < y.h
	}
	return uint64(x.flow)<<8|uint64(x.k) < uint64(y.flow)<<8|uint64(y.k)
}

// tokenGroup returns the refs at the start of idx that share its first
// token.
func tokenGroup(idx []pairTokenRef) []pairTokenRef {
	n := 1
	for n < len(idx) && idx[n].h == idx[0].h {
		n++
	}
	return idx[:n]
}

func tokenFlows(refs []pairTokenRef) int {
	n, last := 0, int32(-1)
	for _, r := range refs { // refs are in flow order
		if r.flow != last {
			n++
			last = r.flow
		}
	}
	return n
}

// candidates collects the pairs of flows that share a distinctive token,
// a 4-tuple or an initial sequence number: at most a few per flow.
func pairCandidates(a, b *sideIndex) []*pairCandidate {
	ia, ib := a.tokens, b.tokens
	// The candidates, found by their flows packed in one word: with
	// [2]int keys the map hashed 16 bytes a hit.
	byPair := make(map[uint64]*pairCandidate, len(a.flows)) // a flow or so each
	get := func(x, y int) *pairCandidate {
		k := uint64(x)<<32 | uint64(uint32(y))
		c := byPair[k]
		if c == nil {
			c = &pairCandidate{a: x, b: y}
			byPair[k] = c
		}
		return c
	}
	for x, y := ia, ib; len(x) > 0 && len(y) > 0; {
		switch {
		case x[0].h < y[0].h:
			x = x[len(tokenGroup(x)):]
		case x[0].h > y[0].h:
			y = y[len(tokenGroup(y)):]
		default:
			gx, gy := tokenGroup(x), tokenGroup(y)
			for _, ra := range gx {
				for _, rb := range gy {
					c := get(int(ra.flow), int(rb.flow))
					c.hits = append(c.hits, pairHit{signal: ra.sig, da: ra.dir, db: rb.dir, ka: ra.k, kb: rb.k})
				}
			}
			x, y = x[len(gx):], y[len(gy):]
		}
	}
	// The 4-tuple and ISN joins are bounded as the tokens are: a 4-tuple
	// reused by thousands of connections, or one ISN on thousands of
	// flows, made every pair of them a candidate (4,000 SYNs on one
	// 4-tuple: 53 s and 5 GB). Connections on one 4-tuple follow each
	// other in the same order at both capture points, so the k-th of A
	// joins B's k-th and its commonToken neighbors either side; an ISN on
	// more than commonToken flows of either capture joins nothing (it
	// scores nothing either, see evaluate).
	byKeyA, byKeyB := make(map[tupleKey][]int, len(a.flows)), make(map[tupleKey][]int, len(b.flows))
	for i := range a.flows {
		byKeyA[a.flows[i].key] = append(byKeyA[a.flows[i].key], i)
	}
	for i := range b.flows {
		byKeyB[b.flows[i].key] = append(byKeyB[b.flows[i].key], i)
	}
	for k, as := range byKeyA {
		bs := byKeyB[k]
		if len(as) == 1 && len(bs) == 1 {
			addCommonHits(get(as[0], bs[0]), a, b)
			continue
		}
		for rank, i := range as {
			lo, hi := 0, len(bs)
			if len(as) > commonToken || len(bs) > commonToken {
				lo, hi = max(0, rank-commonToken), min(len(bs), rank+commonToken+1)
			}
			for _, j := range bs[min(lo, hi):hi] {
				get(i, j)
			}
		}
	}
	isnB := make(map[capture.Seq][]int, len(b.flows))
	for i := range b.flows {
		for _, hs := range [...]handshakeDigest{b.flows[i].syn, b.flows[i].synack} {
			if hs.seen && b.isnFlows[hs.isn] <= commonToken {
				isnB[hs.isn] = append(isnB[hs.isn], i)
			}
		}
	}
	for i := range a.flows {
		for _, hs := range [...]handshakeDigest{a.flows[i].syn, a.flows[i].synack} {
			if hs.seen && a.isnFlows[hs.isn] <= commonToken {
				for _, j := range isnB[hs.isn] {
					get(i, j)
				}
			}
		}
	}
	out := make([]*pairCandidate, 0, len(byPair))
	for _, c := range byPair {
		out = append(out, c)
	}
	// Map order is random: sort so that ties resolve the same every run.
	slices.SortFunc(out, func(x, y *pairCandidate) int {
		return cmp.Or(cmp.Compare(x.a, y.a), cmp.Compare(x.b, y.b))
	})
	return out
}

// addCommonHits adds to c, a pairing of the only flow on a 4-tuple in
// each capture, the sampled segments the two flows share through tokens
// too common to index (parallel connections with the same timestamps,
// IP IDs or payloads: a test rig, a capture diffed with itself). A
// common token tells nothing about which flow to pair, but once the
// 4-tuple has said, segments that match one by one, at the sequence
// offset the direction's other hits agree on (see evaluate), say it is
// the same connection. The sketches are sorted by token, so this is a
// merge of a few dozen samples.
func addCommonHits(c *pairCandidate, a, b *sideIndex) {
	for da := range 2 {
		for db := range 2 {
			for sig := range sampledSignals {
				fa, fb := &a.flows[c.a], &b.flows[c.b]
				ka, kb := fa.sketchAt(da, sig), fb.sketchAt(db, sig)
				for ka[0] < ka[1] && kb[0] < kb[1] {
					x, y := &fa.samples[ka[0]], &fb.samples[kb[0]]
					switch {
					case x.h < y.h:
						ka[0]++
					case x.h > y.h:
						kb[0]++
					default:
						if !x.indexed {
							c.hits = append(c.hits, pairHit{signal: x.sig, da: uint8(da), db: uint8(db), ka: uint8(ka[0]), kb: uint8(kb[0])})
						}
						ka[0]++
						kb[0]++
					}
				}
			}
		}
	}
}
