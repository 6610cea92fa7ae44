package pathdiff

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSortByTokenIsAStableSortByToken: the radix sort puts refs in the
// order a stable comparison sort by token does (refs are made in flow and
// sample order), tokens repeated or not, alike in their high bytes or in
// every byte, on both sides of the size below which it sorts by
// comparison.
func TestSortByTokenIsAStableSortByToken(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tokens := map[string]func() uint64{
		"random":          rng.Uint64,
		"few distinct":    func() uint64 { return rng.Uint64N(7) * 0x9e3779b97f4a7c15 },
		"low bytes only":  func() uint64 { return rng.Uint64N(1 << 12) },
		"high bytes only": func() uint64 { return rng.Uint64N(1<<12) << 52 },
		"all the same":    func() uint64 { return 42 },
	}
	for name, token := range tokens {
		for _, n := range []int{0, 1, 2, 63, 64, 65, 5000, 70000} {
			refs := make([]pairTokenRef, n)
			for i := range refs {
				refs[i] = pairTokenRef{h: token(), flow: int32(i / 3), k: uint8(i % 3)}
			}
			want := slices.Clone(refs)
			slices.SortStableFunc(want, func(x, y pairTokenRef) int { return cmp.Compare(x.h, y.h) })
			sortByToken(refs)
			assert.Equal(t, want, refs, "%s, %d refs", name, n)
		}
	}
}
