package main

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTableListsTheMostImportantFlows: past maxListed flows, the text
// report keeps those with the most severe findings, then those that
// amounted to a connection, the earliest first among equals, lists them
// in ID order and counts the rest.
func TestTableListsTheMostImportantFlows(t *testing.T) {
	flows, found := fixtureFlows(t)
	ranks := map[int]bool{}
	for i := range flows {
		flows[i].ID = uint64(i + 1) // the fixture captures each count from 1
		ranks[rankOf(&flows[i], found[i])] = true
	}
	require.Greater(t, len(ranks), 2, "the fixture flows should rank differently")
	for _, limit := range []int{1, 7, len(flows) / 3, len(flows) - 1, len(flows), len(flows) + 5} {
		t.Run("", func(t *testing.T) {
			defer func(old int) { maxListed = old }(maxListed)
			maxListed = limit

			byImportance := make([]int, len(flows))
			for i := range byImportance {
				byImportance[i] = i
			}
			slices.SortFunc(byImportance, func(a, b int) int {
				ra, rb := rankOf(&flows[a], found[a]), rankOf(&flows[b], found[b])
				return cmp.Or(cmp.Compare(rb, ra), cmp.Compare(flows[a].ID, flows[b].ID))
			})
			var want []uint64
			for _, i := range byImportance[:min(limit, len(flows))] {
				want = append(want, flows[i].ID)
			}
			slices.Sort(want)

			o := readOptions{format: "text", palette: newPalette(false)}
			var res fileResult
			c := newCollector("x", &o, &res)
			for i := range flows {
				f := flows[i]
				c.add(&f)
			}
			c.done()
			var got []uint64
			for _, lf := range res.listed {
				got = append(got, lf.id)
			}
			assert.Equal(t, want, got, "listed flows, maxListed %d", limit)
			assert.Equal(t, len(flows)-len(want), res.unlisted)
			assert.Equal(t, len(flows), res.flows)
		})
	}
}

func TestListedInOrder(t *testing.T) {
	part := func(ids ...uint64) *collected {
		k := &collected{}
		for _, id := range ids {
			k.chunks = append(k.chunks, []listedFlow{{id: id, row: fmt.Sprint(id)}})
		}
		return k
	}
	ids := func(rows []*listedFlow) (out []uint64) {
		for _, lf := range rows {
			out = append(out, lf.id)
			assert.Equal(t, fmt.Sprint(lf.id), lf.row, "a row stays with its flow")
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		parts []*collected
		want  []uint64
	}{
		{"every ID of a range", []*collected{part(3, 5, 4), part(7, 6), part()}, []uint64{3, 4, 5, 6, 7}},
		{"IDs with gaps", []*collected{part(9, 2), part(5)}, []uint64{2, 5, 9}},
		{"one flow", []*collected{part(), part(42)}, []uint64{42}},
		{"none", []*collected{part(), part()}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, dropped := listedInOrder(tc.parts)
			assert.Equal(t, tc.want, ids(rows))
			assert.Zero(t, dropped)
		})
	}
}
