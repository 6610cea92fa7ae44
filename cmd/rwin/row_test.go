package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
	"rwin/fixtures"
	"rwin/rules"
)

// fixtureFlows returns every flow of the fixture captures with its
// findings.
func fixtureFlows(tb testing.TB) ([]analyze.Flow, [][]rules.Finding) {
	tb.Helper()
	var flows []analyze.Flow
	for _, name := range fixtureCaptures(tb) {
		src, err := capture.Open(filepath.Join(fixtures.Dir(), name))
		require.NoError(tb, err)
		analyze.Run(src, nil, analyze.Config{}, func(f *analyze.Flow) { flows = append(flows, *f) })
		src.Close()
	}
	require.NotEmpty(tb, flows)
	found := make([][]rules.Finding, len(flows))
	for i := range flows {
		found[i] = rules.Evaluate(&flows[i])
	}
	return flows, found
}

// TestFlowRowAllocatesOnce: a text report renders a row for every flow
// as it finishes, so a row costs one allocation, its string, when colors
// are off (rows on a pipe or in a file).
func TestFlowRowAllocatesOnce(t *testing.T) {
	flows, found := fixtureFlows(t)
	p := newPalette(false)
	for i := range flows {
		allocs := testing.AllocsPerRun(10, func() { flowRow(p, &flows[i], found[i]) })
		assert.LessOrEqual(t, allocs, 1.0, "flow %d: %q", flows[i].ID, flowRow(p, &flows[i], found[i]))
	}
}

func BenchmarkFlowRow(b *testing.B) {
	flows, found := fixtureFlows(b)
	for _, on := range []bool{false, true} {
		name := "plain"
		if on {
			name = "colored"
		}
		b.Run(name, func(b *testing.B) {
			p := newPalette(on)
			b.ReportAllocs()
			for b.Loop() {
				for i := range flows {
					flowRow(p, &flows[i], found[i])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(flows)), "ns/row")
		})
	}
}
