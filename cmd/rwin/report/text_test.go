package report

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/rules"
)

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// textOf runs the fixture flows, each with its own ID, through a text sink
// and returns what it wrote.
func textOf(t *testing.T, flows []Flow, o TextOptions) string {
	t.Helper()
	var out bytes.Buffer
	sink := NewText(&out, o)
	if o.Stream {
		require.NoError(t, sink.Start())
	}
	in := Input{Name: "x.pcap"}
	for i := range flows {
		in.Count(flows[i].Findings)
		sink.Flow(0, &flows[i])
	}
	sink.EndInput(0, &in)
	run := &Run{Inputs: []Input{in}}
	if o.Stream {
		run.Capture = &CaptureRecord{Interface: "eth0", Stopped: "interrupt"}
	}
	require.NoError(t, sink.Close(run))
	return out.String()
}

// numbered is the fixture flows, each with an ID of its own.
func numbered(t *testing.T) []Flow {
	flows := fixtureFlows(t)
	for i := range flows {
		flows[i].Facts.ID = uint64(i + 1)
	}
	return flows
}

// TestTextAlignsWithColorOn: with colors forced on, every row of the
// table, and of the streamed table of rwin live, starts its columns where
// the heading's do, as without colors.
func TestTextAlignsWithColorOn(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream %v", stream), func(t *testing.T) {
			flows := numbered(t)
			plain := textOf(t, flows, TextOptions{Palette: NewPalette(false), Stream: stream})
			colored := textOf(t, flows, TextOptions{Palette: NewPalette(true), Stream: stream})
			require.Contains(t, colored, "\x1b[", "colors are on")
			assert.Equal(t, plain, ansi.ReplaceAllString(colored, ""))
			if stream {
				return // fixed columns: a long IPv6 address pushes its row on
			}
			lines := strings.Split(plain, "\n")
			head := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "CLIENT → SERVER") })
			require.GreaterOrEqual(t, head, 0)
			col := strings.Index(lines[head], "HANDSHAKE")
			for _, l := range lines[head+1 : head+len(flows)] {
				assert.Equal(t, " ", string([]rune(l)[len([]rune(lines[head][:col]))-1]), "the column before HANDSHAKE ends in a space: %q", l)
			}
		})
	}
}

// flood is n flows without findings, then the flagged fixture flows,
// each with its own ID: a long capture with a few flows that matter.
func flood(t *testing.T, n int) ([]Flow, []uint64) {
	fixtures := numbered(t)
	var flagged []Flow
	var quiet Flow
	for _, f := range fixtures {
		if f.Flagged() {
			flagged = append(flagged, f)
		} else if len(f.Findings) == 0 {
			quiet = f
		}
	}
	require.GreaterOrEqual(t, len(flagged), 14)
	flagged = flagged[:14]
	var flows []Flow
	var ids []uint64
	for i := range n {
		f := quiet
		facts := *quiet.Facts
		f.Facts = &facts
		if i%(n/len(flagged)) == n/len(flagged)/2 && len(ids) < len(flagged) {
			f = flagged[len(ids)]
			facts = *f.Facts
			f.Facts = &facts
			ids = append(ids, uint64(i+1))
		}
		f.Facts.ID = uint64(i + 1)
		flows = append(flows, f)
	}
	return flows, ids
}

// TestWorstFlowsOnTheFirstScreen: of 14,000 flows, the 14 with warn or
// error findings are named in the first 24 lines, before the table.
func TestWorstFlowsOnTheFirstScreen(t *testing.T) {
	flows, ids := flood(t, 14_000)
	out := textOf(t, flows, TextOptions{Palette: NewPalette(false), Top: 5})
	screen := strings.Join(strings.Split(out, "\n")[:24], "\n")
	assert.Contains(t, screen, "worst flows: 14 flows with warn or error findings")
	for _, id := range ids {
		assert.Regexp(t, fmt.Sprintf(`(?m)^  %d\s+\S+ → \S+\s+(warn|error) [a-z-]+: `, id), screen)
	}
}

func TestTableOptions(t *testing.T) {
	flows := numbered(t)
	ids := func(out string) []string {
		var got []string
		table := out[strings.Index(out, "CLIENT → SERVER"):]
		for _, m := range regexp.MustCompile(`(?m)^  (\d+)  `).FindAllStringSubmatch(table, -1) {
			got = append(got, m[1])
		}
		return got
	}
	t.Run("findings only lists the flows with findings and counts the rest", func(t *testing.T) {
		out := textOf(t, flows, TextOptions{Palette: NewPalette(false), FindingsOnly: true})
		n := 0
		for _, f := range flows {
			if len(f.Findings) > 0 {
				n++
			}
		}
		assert.Len(t, ids(out), n)
		assert.Contains(t, out, fmt.Sprintf("%d flows without findings not listed (--findings-only)", len(flows)-n))
	})
	t.Run("sort by findings puts the errors first", func(t *testing.T) {
		out := textOf(t, flows, TextOptions{Palette: NewPalette(false), Sort: SortFindings})
		first := flows[slices.IndexFunc(flows, func(f Flow) bool { return f.Severity() == int(rules.Error) })]
		lines := strings.Split(out, "\n")
		head := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "CLIENT → SERVER") })
		assert.Contains(t, lines[head+1], " error ")
		assert.Contains(t, out, fmt.Sprint(first.Facts.ID))
	})
	t.Run("total counts findings per rule", func(t *testing.T) {
		out := textOf(t, flows, TextOptions{Palette: NewPalette(false)})
		assert.Regexp(t, `(?m)^total: .* findings: \d+ error, \d+ warn, \d+ info \(([a-z-]+ \d+, )+[a-z-]+ \d+\)$`, out)
	})
}

func TestSortRows(t *testing.T) {
	rows := []*listed{
		{id: 1, rank: 1, ceiling: 5e6, window: 1 << 16, winOK: true, bytes: 10, rtt: 40e6},
		{id: 2, rank: 5, bytes: 500},
		{id: 3, rank: 3, ceiling: 1e6, window: 1 << 10, winOK: true, bytes: 50, rtt: 90e6},
		{id: 4, rank: 1, ceiling: 9e6, window: 1 << 20, winOK: true, bytes: 10, rtt: 1e6},
	}
	for _, c := range []struct {
		key  SortKey
		want []uint64
	}{
		{SortStart, []uint64{1, 2, 3, 4}},
		{SortCeiling, []uint64{3, 1, 4, 2}},
		{SortRWIN, []uint64{3, 1, 4, 2}},
		{SortFindings, []uint64{2, 3, 1, 4}},
		{SortBytes, []uint64{2, 3, 1, 4}},
		{SortRTT, []uint64{3, 1, 4, 2}},
	} {
		t.Run(c.key.String(), func(t *testing.T) {
			r := slices.Clone(rows)
			slices.Reverse(r)
			sortRows(r, c.key)
			var got []uint64
			for _, x := range r {
				got = append(got, x.id)
			}
			assert.Equal(t, c.want, got)
			k, err := ParseSortKey(c.key.String())
			require.NoError(t, err)
			assert.Equal(t, c.key, k)
		})
	}
	_, err := ParseSortKey("speed")
	assert.EqualError(t, err, `unknown --sort "speed" (want start, ceiling, rwin, findings, bytes, rtt)`)
}

func TestNotation(t *testing.T) {
	for _, c := range []struct {
		name string
		got  string
		want string
	}{
		{"exact kibibytes", size(64 << 10), "64 KiB"},
		{"rounded kibibytes", size(65535), "≈64.0 KiB"},
		{"bytes are exact", size(509), "509 B"},
		{"histogram median", string(appendSize(nil, 64<<10, false)), "≈64 KiB"},
		{"gigabits", rate(2.5e9), "2.5 Gbit/s"},
		{"terabits", rate(1.2e12), "1.2 Tbit/s"},
		{"ceiling within any link", ceiling(1.2e12), "1.2 Tbit/s"},
		{"ceiling past any link", ceiling(3e13), "none (above any link's rate)"},
	} {
		t.Run(c.name, func(t *testing.T) { assert.Equal(t, c.want, c.got) })
	}
}

func TestFormats(t *testing.T) {
	f, err := ParseFormat("ndjson", FormatText, FormatJSON, FormatNDJSON)
	require.NoError(t, err)
	assert.Equal(t, FormatNDJSON, f)
	_, err = ParseFormat("html", FormatText, FormatJSON, FormatNDJSON)
	assert.EqualError(t, err, `unknown format "html" (want text, json or ndjson)`)
}

// TestBindingLimit: the lower of the two ceilings binds.
func TestBindingLimit(t *testing.T) {
	assert.Equal(t, LimitNone, (&Side{}).Binds())
	assert.Equal(t, LimitWindow, (&Side{Ceiling: 1e6, CeilingKnown: true}).Binds())
	assert.Equal(t, LimitLoss, (&Side{Ceiling: 1e6, CeilingKnown: true, LossCeiling: 5e5, LossCeilingKnown: true}).Binds())
	assert.Equal(t, LimitWindow, (&Side{Ceiling: 1e6, CeilingKnown: true, LossCeiling: 5e6, LossCeilingKnown: true}).Binds())
}

// TestTextWritesInputsInTheirOrder: inputs that end in any order, several
// at once (each sorting and measuring its table on its own goroutine),
// come out in the order given, each block whole, the same as when they
// end one after the other.
func TestTextWritesInputsInTheirOrder(t *testing.T) {
	flows := numbered(t)
	const inputs = 5
	report := func(order []int, concurrent bool) string {
		var out bytes.Buffer
		sink := NewText(&out, TextOptions{Palette: NewPalette(false)})
		run := &Run{Inputs: make([]Input, inputs)}
		for i := range run.Inputs {
			run.Inputs[i].Name = fmt.Sprintf("in%d.pcap", i)
			for j := range flows[:i+1] {
				run.Inputs[i].Count(flows[j].Findings)
				sink.Flow(i, &flows[j])
			}
		}
		var wg sync.WaitGroup
		for _, i := range order {
			end := func() { sink.EndInput(i, &run.Inputs[i]) }
			if concurrent {
				wg.Go(end)
			} else {
				end()
			}
		}
		wg.Wait()
		require.NoError(t, sink.Close(run))
		return out.String()
	}
	want := report([]int{0, 1, 2, 3, 4}, false)
	for i := range inputs {
		require.Contains(t, want, fmt.Sprintf("in%d.pcap", i))
	}
	assert.Less(t, strings.Index(want, "in1.pcap"), strings.Index(want, "in2.pcap"))
	for _, order := range [][]int{{4, 3, 2, 1, 0}, {1, 0, 3, 2, 4}, {2, 4, 0, 3, 1}} {
		assert.Equal(t, want, report(order, false), "ended one at a time in order %v", order)
		for range 20 {
			assert.Equal(t, want, report(order, true), "ended at once, started in order %v", order)
		}
	}
}

// TestTextWritesNothingBeforeClose: rwin read draws its progress line on
// a terminal's stderr until every input has ended and clears it before
// Close; a block written when its input ended would reach the same
// terminal under the line, and the line's redraws would land in the
// table.
func TestTextWritesNothingBeforeClose(t *testing.T) {
	flows, _ := flood(t, 2000) // tables larger than the output's buffer
	var out bytes.Buffer
	sink := NewText(&out, TextOptions{Palette: NewPalette(false)})
	run := &Run{Inputs: make([]Input, 2)}
	for i := range run.Inputs {
		run.Inputs[i].Name = fmt.Sprintf("in%d.pcap", i)
		for j := range flows {
			run.Inputs[i].Count(flows[j].Findings)
			sink.Flow(i, &flows[j])
		}
		sink.EndInput(i, &run.Inputs[i])
	}
	assert.Zero(t, out.Len(), "bytes written before Close")
	require.NoError(t, sink.Close(run))
	assert.Greater(t, out.Len(), 2*64<<10, "both tables are larger than the output's buffer")
	assert.Contains(t, out.String(), "in1.pcap")
}
