package report

import (
	"cmp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTableListsTheMostImportantFlows: past its listing limit, the text
// report keeps the flows with the most severe findings, then those that
// amounted to a connection, the earliest first among equals, and counts
// the rest.
func TestTableListsTheMostImportantFlows(t *testing.T) {
	flows := fixtureFlows(t)
	ranks := map[int]bool{}
	for i := range flows {
		flows[i].Facts.ID = uint64(i + 1) // the fixture captures each count from 1
		ranks[flows[i].Rank()] = true
	}
	require.Greater(t, len(ranks), 2, "the fixture flows should rank differently")
	for _, limit := range []int{1, 7, len(flows) / 3, len(flows) - 1, len(flows), len(flows) + 5} {
		t.Run("", func(t *testing.T) {
			byImportance := slices.Clone(flows)
			slices.SortFunc(byImportance, func(a, b Flow) int {
				return cmp.Or(cmp.Compare(b.Rank(), a.Rank()), cmp.Compare(a.Facts.ID, b.Facts.ID))
			})
			var want []uint64
			for _, f := range byImportance[:min(limit, len(flows))] {
				want = append(want, f.Facts.ID)
			}
			slices.Sort(want)

			sink := NewText(nil, TextOptions{Palette: NewPalette(false), Limit: limit})
			for i := range flows {
				sink.Flow(0, &flows[i])
			}
			ti := sink.input(0)
			var got []uint64
			for _, r := range ti.rowsKept() {
				got = append(got, r.id)
			}
			slices.Sort(got)
			assert.Equal(t, want, got, "listed flows, limit %d", limit)
			assert.Equal(t, len(flows)-len(want), ti.unlisted)
		})
	}
}
