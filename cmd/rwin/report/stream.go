package report

import (
	"fmt"
	"strings"
	"time"
)

// The streaming mode of the text sink (rwin live): each flow written as it
// ends, in columns of fixed width, since the flows to come cannot be
// measured; then the closing summary with the capture's statistics.

// streamColumns are the widths of the streamed table's columns but the
// last.
var streamColumns = []int{5, 45, 6, 12, 9, 11, 11, 9, 12, 12}

// Start writes the heading of the streamed table (none with -v), at the
// start and again in each new file after a reopen.
func (t *Text) Start() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.o.Verbose {
		cells := make([]string, len(tableCells))
		for i, c := range tableCells {
			cells[i] = t.o.Palette.Head.Sprint(c)
		}
		t.streamRow(cells)
	}
	return t.flush()
}

// streamRow writes cells padded to streamColumns by their shown width:
// numbers (the ID and the columns from RWIN on) align right.
func (t *Text) streamRow(cells []string) {
	var b strings.Builder
	for i, c := range cells {
		if i >= len(streamColumns) {
			b.WriteString(c)
			continue
		}
		pad := strings.Repeat(" ", max(streamColumns[i]-shownWidth(c), 0))
		if i == 0 || i >= 5 {
			b.WriteString(pad + c + "  ")
		} else {
			b.WriteString(c + pad + "  ")
		}
	}
	fmt.Fprintln(t.w, strings.TrimRight(b.String(), " "))
}

// stream writes one flow, its row or with -v its detail block, and
// flushes, so a reader of the stream sees each flow as it ends.
func (t *Text) stream(f *Flow) {
	var detail strings.Builder
	var cells []string
	if t.o.Verbose {
		writeDetail(&detail, t.o.Palette, f)
		detail.WriteString("\n")
	} else {
		cells = strings.Split(strings.TrimPrefix(Row(t.o.Palette, f), "  "), "\t")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return
	}
	if t.o.Verbose {
		t.w.WriteString(detail.String())
	} else {
		t.streamRow(cells)
	}
	t.flush()
}

// Flush writes what is buffered; the first error sticks.
func (t *Text) Flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.flush()
}

func (t *Text) flush() error {
	if t.err == nil {
		t.err = t.w.Flush()
	}
	return t.err
}

// Stopping announces the flows about to be flushed at the end of a live
// capture.
func (t *Text) Stopping(why string, open int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil || open == 0 {
		return
	}
	fmt.Fprintln(t.w, t.o.Palette.Dim.Sprintf("— stopped (%s): the %s not reported yet, as they stand —", why, Plural(open, "flow")))
	t.flush()
}

// liveSummary writes the closing summary of a live capture.
func (t *Text) liveSummary(run *Run) {
	w, p, c := t.w, t.o.Palette, run.Capture
	in := &run.Inputs[0]
	sum := &in.Sum
	fmt.Fprintf(w, "\n%s  %d packets, %d TCP, %s", p.Head.Sprint(c.Interface), sum.Packets, sum.TCP, Plural(in.Flows, "flow"))
	if sum.Packets > 0 {
		fmt.Fprintf(w, ", %s", DurationString(time.Duration(sum.LastTime-sum.FirstTime)))
	}
	if skipped := sum.Packets - sum.TCP; skipped > 0 {
		fmt.Fprintf(w, " %s", p.Dim.Sprintf("(%d not TCP or not decodable)", skipped))
	}
	fmt.Fprintf(w, "; stopped: %s\n", c.Stopped)
	if c.Received != nil {
		line := fmt.Sprintf("kernel: %d packets received, %d dropped", *c.Received, *c.Dropped)
		if *c.IfDropped > 0 {
			line += fmt.Sprintf(", %d dropped by the interface", *c.IfDropped)
		}
		if len(c.Weakened) == 0 {
			fmt.Fprintf(w, "  %s\n", p.Dim.Sprint(line))
		} else {
			fmt.Fprintf(w, "  %s\n", p.Warn.Sprint(line+"; these conclusions are less sure:"))
			for _, x := range c.Weakened {
				fmt.Fprintf(w, "    %s\n", x)
			}
			fmt.Fprintf(w, "  %s\n", p.Dim.Sprint("raise -B, lower -s or narrow the filter to drop less"))
		}
	}
	if sum.TruncOpts > 0 {
		fmt.Fprintf(w, "  %s\n", p.Dim.Sprintf("%d segments had options cut by the snaplen (header fields kept)", sum.TruncOpts))
	}
	writeUnanswered(w, p, &sum.Unanswered)
	if sum.Analyzer.Evicted > 0 {
		fmt.Fprintf(w, "  %s\n", p.Warn.Sprintf("flow table full: %d flows reported early (raise --max-flows)", sum.Analyzer.Evicted))
	}
	if c.WrittenTo != nil {
		fmt.Fprintf(w, "  %s\n", p.Dim.Sprintf("packets written to %s", *c.WrittenTo))
	}
	fmt.Fprintf(w, "%s %s; findings: %s\n", p.Head.Sprint("total:"), Plural(in.Flows, "flow"), findingCounts(p, run.Inputs))
}
