package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"rwin/analyze"
	"rwin/analyze/pathdiff"
	"rwin/rules"
)

// DiffOutput writes a diff's records as the diff finds them, in the order
// the whole document holds them: the pairs in the order of A's flows (a
// pair that finishes before an earlier one waits, rendered, until the
// earlier one comes), then the flows seen in one capture only, then the
// summary. It keeps what the output still needs: rendered pairs waiting
// for an earlier pair, a reference to each unpaired flow and the counts.
// In HTML it gathers the page instead (see diffHTML).
type DiffOutput struct {
	w        *bufio.Writer
	format   Format
	pal      Palette
	files    [2]string
	sum      diffSummaryRecord
	found    rules.SeverityCounts // the pairs' findings, for sum.Findings
	next     int                  // the next pair to write
	held     *heldPairs           // rendered pairs waiting for an earlier one
	buf      bytes.Buffer
	unpaired [2][]diffFlowRef
	html     *diffHTML // --format html: gathers the page instead
	err      error
}

// DiffOptions are what rwin diff's output is made of besides the records.
type DiffOptions struct {
	Format Format
	Color  bool
	Files  [2]string
	// HTML: Top is --top, the pairs charted by bytes; Open and Config read
	// the captures once more for the series of the pairs charted.
	Top    int
	Open   [2]analyze.Opener
	Config analyze.Config
}

// NewDiffOutput returns the output of a diff, written to w.
func NewDiffOutput(w io.Writer, opt DiffOptions) *DiffOutput {
	o := &DiffOutput{w: bufio.NewWriter(w), format: opt.Format, pal: NewPalette(opt.Color), files: opt.Files,
		held: newHeldPairs(diffHoldBudget),
		sum: diffSummaryRecord{Type: "diff-summary", Schema: SchemaVersion, Files: []FileSummary{},
			ByConfidence: map[string]int{"high": 0, "medium": 0, "low": 0}}}
	if opt.Format == FormatHTML {
		o.html = newDiffHTML(opt.Top, opt.Open, opt.Config)
	}
	return o
}

// Sink is the pathdiff.Sink that feeds o.
func (o *DiffOutput) Sink() pathdiff.Sink {
	return pathdiff.Sink{Head: o.head, Pair: o.pair, Unpaired: o.unpairedFlow}
}

// head starts the output: for text the captures and the clock offset.
func (o *DiffOutput) head(h *pathdiff.Head) {
	o.sum.ClockPairs = h.ClockPairs
	if h.ClockPairs > 0 {
		o.sum.ClockOffsetMS = ptr(Millis(h.ClockOffset))
	}
	switch o.format {
	case FormatJSON:
		fmt.Fprintf(o.w, "{\n  \"schema\": %d,\n  \"pairs\": [", SchemaVersion)
	case FormatText:
		writeDiffHead(o.w, o.pal, o.files, h)
	}
}

// pair renders one pair and writes every pair that can go out now.
func (o *DiffOutput) pair(n int, p *analyze.FlowPair, a, b pathdiff.Flow) {
	var rec DiffPairRecord
	if o.html != nil || o.format == FormatJSON || o.format == FormatNDJSON {
		rec = newDiffPairRecord(n+1, o.files, p, a.Flow, b.Flow)
	} else {
		rec = newDiffPairText(n+1, o.files, p, a.Flow, b.Flow)
	}
	o.sum.ByConfidence[rec.Pairing.Confidence]++
	for i := range rec.find {
		o.found[rec.find[i].Severity]++
	}
	if o.html != nil {
		o.html.pair(&rec)
		return
	}
	buf := &o.buf
	buf.Reset()
	switch o.format {
	case FormatJSON:
		sep := ","
		if n == 0 {
			sep = ""
		}
		out, err := json.MarshalIndent(&rec, "    ", "  ")
		o.fail(err)
		buf.WriteString(sep + "\n    ")
		buf.Write(out)
	case FormatNDJSON:
		out, err := json.Marshal(&rec)
		o.fail(err)
		buf.Write(out)
		buf.WriteByte('\n')
	default:
		buf.WriteByte('\n')
		writePairText(buf, o.pal, &rec)
	}
	if n != o.next {
		o.fail(o.held.hold(n, buf.Bytes()))
		return
	}
	_, err := o.w.Write(buf.Bytes())
	o.fail(err)
	for o.next++; ; o.next++ {
		ok, err := o.held.writeTo(o.w, o.next)
		o.fail(err)
		if !ok {
			return
		}
	}
}

// Close removes what the output kept on disk.
func (o *DiffOutput) Close() { o.held.close() }

// unpairedFlow keeps a reference to a flow seen in one capture only.
func (o *DiffOutput) unpairedFlow(c analyze.Capture, f pathdiff.Flow) {
	o.unpaired[c] = append(o.unpaired[c], flowRef(o.files[c], f.Flow))
}

func (o *DiffOutput) fail(err error) {
	if o.err == nil {
		o.err = err
	}
}

// Finish writes the flows seen in one capture only and the summary, or
// the HTML page.
func (o *DiffOutput) Finish(h *pathdiff.Head) error {
	for i := range o.unpaired {
		slices.SortFunc(o.unpaired[i], func(x, y diffFlowRef) int { return int(x.ID) - int(y.ID) })
	}
	o.sum.OnlyA, o.sum.OnlyB = len(o.unpaired[0]), len(o.unpaired[1])
	for i := range h.Summaries {
		// The file part of read's summary, for the same keys.
		fsum := Summarize([]Input{{Name: o.files[i], Sum: h.Summaries[i], Err: h.Summaries[i].Err}}).Files[0]
		fsum.Flows = h.Flows[i]
		o.sum.Files = append(o.sum.Files, fsum)
	}
	o.sum.Pairs = h.Pairs
	o.sum.Findings = o.found.ByName()
	if o.html != nil {
		o.fail(o.html.write(o.w, o.files, h, &o.sum, o.unpaired))
		o.fail(o.w.Flush())
		return o.err
	}
	switch o.format {
	case FormatJSON:
		if o.next > 0 {
			o.w.WriteString("\n  ")
		}
		o.w.WriteString("],\n  \"unpaired\": [")
		n := 0
		for i := range o.unpaired {
			for _, ref := range o.unpaired[i] {
				out, err := json.MarshalIndent(unpairedRecord(i, ref), "    ", "  ")
				o.fail(err)
				if n > 0 {
					o.w.WriteByte(',')
				}
				o.w.WriteString("\n    ")
				o.w.Write(out)
				n++
			}
		}
		if n > 0 {
			o.w.WriteString("\n  ")
		}
		out, err := json.MarshalIndent(o.sum, "  ", "  ")
		o.fail(err)
		o.w.WriteString("],\n  \"summary\": ")
		o.w.Write(out)
		o.w.WriteString("\n}\n")
	case FormatNDJSON:
		enc := json.NewEncoder(o.w)
		for i := range o.unpaired {
			for _, ref := range o.unpaired[i] {
				o.fail(enc.Encode(unpairedRecord(i, ref)))
			}
		}
		o.fail(enc.Encode(o.sum))
	default:
		writeDiffTail(o.w, o.pal, o.unpaired, &o.sum, &o.found)
	}
	o.fail(o.w.Flush())
	return o.err
}

func unpairedRecord(c int, ref diffFlowRef) diffUnpairedRecord {
	return diffUnpairedRecord{Type: "unpaired", Schema: SchemaVersion, Capture: captureKey(c), diffFlowRef: ref}
}

// writeDiffHead renders the top of rwin diff's text report: the two
// captures and the clock offset.
func writeDiffHead(w io.Writer, p Palette, files [2]string, h *pathdiff.Head) {
	for i := range h.Summaries {
		m := &h.Summaries[i]
		fmt.Fprintf(w, "%s  %s  %d packets, %d TCP, %s", p.Head.Sprint(strings.ToUpper(captureKey(i))),
			Shown(files[i]), m.Packets, m.TCP, Plural(h.Flows[i], "flow"))
		if m.Packets > 0 {
			fmt.Fprintf(w, ", %s", DurationString(time.Duration(m.LastTime-m.FirstTime)))
		}
		fmt.Fprintln(w)
		if m.Err != nil {
			fmt.Fprintf(w, "   %s\n", p.Bad.Sprint(OneLine(m.Err.Error())))
		}
	}
	if h.ClockPairs > 0 {
		fmt.Fprintf(w, "clock offset B − A: %+.3f ms (measured on %s)\n", Millis(h.ClockOffset), Plural(h.ClockPairs, "flow pair"))
	} else {
		fmt.Fprintln(w, p.Dim.Sprint("clock offset B − A: unknown (no pair sure enough to measure it)"))
	}
}

// writeDiffTail renders the end of rwin diff's text report: the flows
// seen in one capture only, and the totals.
func writeDiffTail(w io.Writer, p Palette, unpaired [2][]diffFlowRef, s *diffSummaryRecord, found *rules.SeverityCounts) {
	for i, only := range unpaired {
		if len(only) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", p.Head.Sprintf("only in %s:", strings.ToUpper(captureKey(i))))
		for _, u := range only {
			fmt.Fprintf(w, "  flow %d  %s → %s, packets %d–%d (%d), handshake %s\n",
				u.ID, u.Client, u.Server, u.FirstPacket, u.LastPacket, u.Packets, u.Handshake)
		}
	}
	fmt.Fprintf(w, "\n%s %s (%d high, %d medium, %d low confidence), %d only in A, %d only in B",
		p.Head.Sprint("total:"), Plural(s.Pairs, "flow pair"), s.ByConfidence["high"], s.ByConfidence["medium"],
		s.ByConfidence["low"], s.OnlyA, s.OnlyB)
	fmt.Fprintf(w, "; findings: %s\n", SeverityText(p, found))
}
