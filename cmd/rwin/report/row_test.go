package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"text/tabwriter"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
	"rwin/fixtures"
	"rwin/rules"
)

// fixtureCaptures lists the fixture captures, relative to fixtures.Dir().
func fixtureCaptures(tb testing.TB) []string {
	tb.Helper()
	var files []string
	root := filepath.Join(fixtures.Dir(), "captures")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if ext := filepath.Ext(p); err == nil && !d.IsDir() && (ext == ".pcap" || ext == ".pcapng") {
			rel, _ := filepath.Rel(fixtures.Dir(), p)
			files = append(files, rel)
		}
		return err
	})
	require.NoError(tb, err)
	return files
}

// fixtureFlows returns every flow of the fixture captures as the report
// model has it.
func fixtureFlows(tb testing.TB) []Flow {
	tb.Helper()
	var flows []analyze.Flow
	for _, name := range fixtureCaptures(tb) {
		src, err := capture.Open(filepath.Join(fixtures.Dir(), name))
		require.NoError(tb, err)
		analyze.Run(src, nil, analyze.Config{}, func(f *analyze.Flow) { flows = append(flows, *f) })
		src.Close()
	}
	require.NotEmpty(tb, flows)
	out := make([]Flow, len(flows))
	for i := range flows {
		out[i] = NewFlow("x", &flows[i], rules.Evaluate(&flows[i]))
	}
	return out
}

// TestFlowRowAllocatesOnce: a text report renders a row for every flow
// as it finishes, so a row costs one allocation, its string, when colors
// are off (rows on a pipe or in a file).
func TestFlowRowAllocatesOnce(t *testing.T) {
	flows := fixtureFlows(t)
	p := NewPalette(false)
	for i := range flows {
		allocs := testing.AllocsPerRun(10, func() { Row(p, &flows[i]) })
		assert.LessOrEqual(t, allocs, 1.0, "flow %d: %q", flows[i].Facts.ID, Row(p, &flows[i]))
	}
}

func BenchmarkFlowRow(b *testing.B) {
	flows := fixtureFlows(b)
	for _, on := range []bool{false, true} {
		name := "plain"
		if on {
			name = "colored"
		}
		b.Run(name, func(b *testing.B) {
			p := NewPalette(on)
			b.ReportAllocs()
			for b.Loop() {
				for i := range flows {
					Row(p, &flows[i])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(flows)), "ns/row")
		})
	}
}

// TestAlignedTableIsTabwriters: writeAligned stands for text/tabwriter
// with padding 2; the report's rows, and cells with multi-byte runes or
// nothing in them, come out the same.
func TestAlignedTableIsTabwriters(t *testing.T) {
	flows := fixtureFlows(t)
	p := NewPalette(false)
	rows := []string{"  x\t\t≥≥≥\t-\t\t\t\t\t\t\tlast cell"}
	for i := range flows {
		rows = append(rows, Row(p, &flows[i]))
	}
	var got bytes.Buffer
	writeAligned(&got, tableHead(p), rows)
	assert.Equal(t, tabwritten(t, tableHead(p), rows), got.String())
}

// TestColoredTableAlignsLikePlain: color sequences take no room on a
// terminal, so the colored table, its sequences removed, is the plain
// table: the colored heading and findings do not push columns apart.
func TestColoredTableAlignsLikePlain(t *testing.T) {
	flows := fixtureFlows(t)
	var plain, colored bytes.Buffer
	for _, c := range []struct {
		out *bytes.Buffer
		p   Palette
	}{{&plain, NewPalette(false)}, {&colored, NewPalette(true)}} {
		rows := []string{c.p.Warn.Sprint("  7") + "\t" + c.p.Bad.Sprint("x") + "\ty"}
		for i := range flows {
			rows = append(rows, Row(c.p, &flows[i]))
		}
		writeAligned(c.out, tableHead(c.p), rows)
	}
	require.Contains(t, colored.String(), "\x1b[", "the colored table has color")
	assert.Equal(t, plain.String(), ansiSequence.ReplaceAllString(colored.String(), ""))
}

// ansiSequence matches an ANSI control sequence (ECMA-48 §5.4).
var ansiSequence = regexp.MustCompile("\x1b\\[[0-?]*[ -/]*[@-~]")

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
func tableRows(tb testing.TB, p Palette, n int) []string {
	flows := fixtureFlows(tb)
	var rows []string
	for len(rows) < n {
		for i := range flows {
			rows = append(rows, Row(p, &flows[i]))
		}
	}
	return rows
}

// TestLongTableIsTabwriters: a long table, its widest cells in its last
// rows and in the middle, comes out as text/tabwriter lays it out.
func TestLongTableIsTabwriters(t *testing.T) {
	p := NewPalette(false)
	rows := tableRows(t, p, 3*1024+17)
	rows[len(rows)-1] = "  99999999\t[2001:db8::1]:50000 → [2001:db8::2]:3389\trdp\tcomplete\t8/8\t1 MiB"
	rows[len(rows)/2] = "  1\t\t\t\t\t\t\t\t\t\tno findings, and a long last cell"
	var got bytes.Buffer
	writeAligned(&got, tableHead(p), rows)
	require.Equal(t, tabwritten(t, tableHead(p), rows), got.String())
}

// BenchmarkWriteAligned lays out a table as long as the benchmark
// capture's (make bench).
func BenchmarkWriteAligned(b *testing.B) {
	p := NewPalette(false)
	rows := tableRows(b, p, 38_700)
	head := tableHead(p)
	b.ReportAllocs()
	for b.Loop() {
		writeAligned(io.Discard, head, rows)
	}
}
