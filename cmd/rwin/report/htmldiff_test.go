package report

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/analyze/pathdiff"
	"rwin/capture"
	"rwin/fixtures/bench/traffic"
)

// TestDiffHTMLGathersTheSamePageInAnyOrder: the diff hands its pairs over
// as they finish, in no fixed order; the report keeps only the page's
// worth of them (table rows, examples, charted pairs). Whatever the order,
// it keeps the same ones: the most notable rows in pair order, the first
// pairs as each finding's examples, the worst and the biggest pairs to
// chart.
func TestDiffHTMLGathersTheSamePageInAnyOrder(t *testing.T) {
	a, b := "a.pcap", "b.pcap"
	var pcaps [2]bytes.Buffer
	cfg := traffic.Bench()
	cfg.Packets = 20_000
	_, err := traffic.WritePair(&pcaps[0], &pcaps[1], cfg, traffic.BenchPath())
	require.NoError(t, err)
	var open [2]analyze.Opener
	for i, name := range []string{a, b} {
		open[i] = func() (capture.Source, error) { return capture.NewReader(bytes.NewReader(pcaps[i].Bytes()), name) }
	}
	res, err := pathdiff.Diff(open, analyze.Config{})
	require.NoError(t, err)
	require.Greater(t, len(res.Pairs), 100)
	defer func(n int) { MaxHTMLRows = n }(MaxHTMLRows)
	MaxHTMLRows = 40

	gather := func(order []int) *diffHTML {
		d := newDiffHTML(3, open, analyze.Config{})
		for _, n := range order {
			p := &res.Pairs[n]
			rec := newDiffPairRecord(n+1, [2]string{a, b}, p, &res.Sides[0].Flows[p.A], &res.Sides[1].Flows[p.B])
			d.pair(&rec)
		}
		d.trimRows()
		slices.SortFunc(d.rows, func(x, y pairRow) int { return x.pair - y.pair })
		return d
	}
	forward := make([]int, len(res.Pairs))
	for i := range forward {
		forward[i] = i
	}
	backward := slices.Clone(forward)
	slices.Reverse(backward)
	shuffled := slices.Clone(forward)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })

	want := gather(forward)
	require.Len(t, want.rows, MaxHTMLRows)
	assert.Equal(t, len(res.Pairs), want.pairs)
	require.NotEmpty(t, want.find, "the benchmark path's NAT and loss are findings")
	pairsOf := func(cs []*charted) (n []int) {
		for _, c := range cs {
			n = append(n, c.rec.Pair)
		}
		return n
	}
	for name, order := range map[string][]int{"backward": backward, "shuffled": shuffled} {
		got := gather(order)
		assert.Equal(t, want.rows, got.rows, name)
		assert.Equal(t, want.find, got.find, name)
		assert.Equal(t, pairsOf(want.charted()), pairsOf(got.charted()), name)
	}
	// The rows are the most notable pairs: none left out ranks above one
	// listed.
	listed := map[int]bool{}
	least := math.MaxInt
	for _, r := range want.rows {
		listed[r.pair] = true
		least = min(least, r.rank)
	}
	for n := range res.Pairs {
		p := &res.Pairs[n]
		rec := newDiffPairRecord(n+1, [2]string{a, b}, p, &res.Sides[0].Flows[p.A], &res.Sides[1].Flows[p.B])
		if !listed[n+1] {
			assert.LessOrEqual(t, pairRank(&rec), least, "pair %d left out of the table", n+1)
		}
	}
	// The charted pairs outlive the diff's flows: they hold copies.
	for _, c := range want.charted() {
		assert.NotSame(t, &res.Sides[0].Flows[c.rec.p.A], c.rec.fa)
		assert.Equal(t, res.Sides[0].Flows[c.rec.p.A].ID, c.rec.fa.ID)
	}
}
