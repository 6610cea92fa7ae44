package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// SortKey is the order of the text table (--sort).
type SortKey uint8

// The orders of the table. Ties go to the flow that started first.
const (
	SortStart    SortKey = iota // the order flows started in
	SortCeiling                 // smallest RWIN/RTT ceiling first
	SortRWIN                    // smallest median effective window first
	SortFindings                // most severe findings first
	SortBytes                   // most bytes first
	SortRTT                     // longest RTT first
)

var sortNames = [...]string{SortStart: "start", SortCeiling: "ceiling", SortRWIN: "rwin", SortFindings: "findings",
	SortBytes: "bytes", SortRTT: "rtt"}

func (k SortKey) String() string { return sortNames[k] }

// ParseSortKey parses a --sort value.
func ParseSortKey(s string) (SortKey, error) {
	for k, name := range sortNames {
		if name == s {
			return SortKey(k), nil
		}
	}
	return 0, fmt.Errorf("unknown --sort %q (want %s)", s, strings.Join(sortNames[:], ", "))
}

// sortRows puts the table's rows in the order of k; a flow whose sort
// value is unknown goes after those whose value is known.
func sortRows(rows []*listed, k SortKey) {
	slices.SortFunc(rows, func(a, b *listed) int {
		var c int
		switch k {
		case SortCeiling:
			c = knownFirst(a.ceiling > 0, b.ceiling > 0, cmp.Compare(a.ceiling, b.ceiling))
		case SortRWIN:
			c = knownFirst(a.winOK, b.winOK, cmp.Compare(a.window, b.window))
		case SortFindings:
			c = cmp.Compare(b.rank, a.rank)
		case SortBytes:
			c = cmp.Compare(b.bytes, a.bytes)
		case SortRTT:
			c = knownFirst(a.rtt > 0, b.rtt > 0, cmp.Compare(b.rtt, a.rtt))
		}
		return cmp.Or(c, cmp.Compare(a.id, b.id))
	})
}

// knownFirst compares two values of which either may be unknown.
func knownFirst(aok, bok bool, c int) int {
	switch {
	case aok && bok:
		return c
	case aok:
		return -1
	case bok:
		return 1
	}
	return 0
}

// before reports whether a is listed in preference to b when not every
// flow can be: higher rank first, then the flow that started first.
func (a *listed) before(b *listed) bool {
	return a.rank > b.rank || a.rank == b.rank && a.id < b.id
}

// listHeap holds the listed rows once the bound is reached, the one listed
// least readily on top, the first to go when a more important flow comes.
type listHeap []listed

func (h listHeap) Len() int           { return len(h) }
func (h listHeap) Less(i, j int) bool { return h[j].before(&h[i]) }
func (h listHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *listHeap) Push(x any)        { *h = append(*h, x.(listed)) }
func (h *listHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// SortWorstFirst orders flows by their most severe finding, then by the
// smaller of their two median effective windows (a known window before an
// unknown one), then by ID.
func SortWorstFirst(flows []Flow) {
	slices.SortFunc(flows, func(a, b Flow) int {
		if d := b.Severity() - a.Severity(); d != 0 {
			return d
		}
		wa, oka := a.SmallestWindow()
		wb, okb := b.SmallestWindow()
		return cmp.Or(knownFirst(oka, okb, cmp.Compare(wa, wb)), cmp.Compare(a.Facts.ID, b.Facts.ID))
	})
}
