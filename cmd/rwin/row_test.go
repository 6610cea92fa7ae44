package main

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"text/tabwriter"

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

// TestAlignedTableIsTabwriters: writeAligned stands for text/tabwriter
// with padding 2; the report's rows, plain and colored, and cells with
// multi-byte runes or nothing in them, come out the same.
func TestAlignedTableIsTabwriters(t *testing.T) {
	flows, found := fixtureFlows(t)
	for _, on := range []bool{false, true} {
		p := newPalette(on)
		rows := []string{"  x\t\t≥≥≥\t-\t\t\t\t\t\t\tlast cell\twith a tab"}
		for i := range flows {
			rows = append(rows, flowRow(p, &flows[i], found[i]))
		}
		var got bytes.Buffer
		writeAligned(&got, tableHead(p), rows)
		assert.Equal(t, tabwritten(t, tableHead(p), rows), got.String(), "colors %v", on)
	}
}

// tabwritten is the heading and rows as text/tabwriter lays them out with
// writeAligned's padding.
func tabwritten(t *testing.T, head string, rows []string) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, head)
	for _, r := range rows {
		fmt.Fprintln(tw, r)
	}
	require.NoError(t, tw.Flush())
	return b.String()
}

// tableRows is n rows of the fixture flows' table, the flows repeated.
func tableRows(tb testing.TB, p palette, n int) []string {
	flows, found := fixtureFlows(tb)
	var rows []string
	for len(rows) < n {
		for i := range flows {
			rows = append(rows, flowRow(p, &flows[i], found[i]))
		}
	}
	return rows
}

// TestLongTableIsTabwriters: a table long enough to be measured and laid
// out in blocks on several goroutines comes out as text/tabwriter lays it
// out, whatever the number of goroutines.
func TestLongTableIsTabwriters(t *testing.T) {
	p := newPalette(false)
	rows := tableRows(t, p, 3*alignBlock+17)
	// The widest cells sit in the last block and in a middle one.
	rows[len(rows)-1] = "  99999999\t[2001:db8::1]:50000 → [2001:db8::2]:3389\trdp\tcomplete\t8/8\t1 MiB"
	rows[len(rows)/2] = "  1\t\t\t\t\t\t\t\t\t\tno findings, and a long last cell"
	want := tabwritten(t, tableHead(p), rows)
	for _, workers := range []int{1, 2, 3, 8} {
		var got bytes.Buffer
		writeAlignedOn(&got, tableHead(p), rows, workers)
		require.Equal(t, want, got.String(), "%d goroutines", workers)
	}
}

// BenchmarkWriteAligned lays out a table as long as the benchmark
// capture's (make bench).
func BenchmarkWriteAligned(b *testing.B) {
	p := newPalette(false)
	rows := tableRows(b, p, 38_700)
	head := tableHead(p)
	b.ReportAllocs()
	for b.Loop() {
		writeAligned(io.Discard, head, rows)
	}
}
