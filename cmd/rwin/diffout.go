package main

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
	"rwin/cmd/rwin/report"
	"rwin/rules"
)

// diffOutput writes a diff's records as the diff finds them, in the order
// the whole document holds them: the pairs in the order of A's flows (a
// pair that finishes before an earlier one waits, rendered, until the
// earlier one comes), then the flows seen in one capture only, then the
// summary. It keeps what the output still needs: rendered pairs waiting
// for an earlier pair, a reference to each unpaired flow and the counts.
type diffOutput struct {
	w        *bufio.Writer
	format   string
	pal      palette
	files    [2]string
	sum      diffSummaryRecord
	found    rules.SeverityCounts // the pairs' findings, for sum.Findings
	next     int                  // the next pair to write
	held     map[int][]byte       // rendered pairs waiting for an earlier one
	unpaired [2][]diffFlowRef
	html     *diffHTML // --format html: gathers the page instead
	err      error
}

func newDiffOutput(w io.Writer, format string, useColor bool, files [2]string) *diffOutput {
	return &diffOutput{w: bufio.NewWriter(w), format: format, pal: newPalette(useColor), files: files,
		held: map[int][]byte{},
		sum: diffSummaryRecord{Type: "diff-summary", Schema: schemaVersion, Files: []fileSummary{},
			ByConfidence: map[string]int{"high": 0, "medium": 0, "low": 0}}}
}

// sink is the pathdiff.Sink that feeds o.
func (o *diffOutput) sink() pathdiff.Sink {
	return pathdiff.Sink{Head: o.head, Pair: o.pair, Unpaired: o.unpairedFlow}
}

// head starts the output: for text the captures and the clock offset.
func (o *diffOutput) head(h *pathdiff.Head) {
	o.sum.ClockPairs = h.ClockPairs
	if h.ClockPairs > 0 {
		o.sum.ClockOffsetMS = ptr(ms(h.ClockOffset))
	}
	switch o.format {
	case "json":
		fmt.Fprintf(o.w, "{\n  \"schema\": %d,\n  \"pairs\": [", schemaVersion)
	case "text":
		writeDiffHead(o.w, o.pal, o.files, h)
	}
}

// pair renders one pair and writes every pair that can go out now.
func (o *diffOutput) pair(n int, p *analyze.FlowPair, a, b pathdiff.Flow) {
	rec := newDiffPairRecord(n+1, o.files, p, a.Flow, b.Flow)
	o.sum.ByConfidence[rec.Pairing.Confidence]++
	for i := range rec.find {
		o.found[rec.find[i].Severity]++
	}
	if o.html != nil {
		o.html.pair(&rec)
		return
	}
	var buf bytes.Buffer
	switch o.format {
	case "json":
		sep := ","
		if n == 0 {
			sep = ""
		}
		out, err := json.MarshalIndent(&rec, "    ", "  ")
		o.fail(err)
		buf.WriteString(sep + "\n    ")
		buf.Write(out)
	case "ndjson":
		out, err := json.Marshal(&rec)
		o.fail(err)
		buf.Write(out)
		buf.WriteByte('\n')
	default:
		buf.WriteByte('\n')
		writePairText(&buf, o.pal, &rec)
	}
	o.held[n] = buf.Bytes()
	for {
		out, ok := o.held[o.next]
		if !ok {
			return
		}
		delete(o.held, o.next)
		o.next++
		_, err := o.w.Write(out)
		o.fail(err)
	}
}

// unpairedFlow keeps a reference to a flow seen in one capture only.
func (o *diffOutput) unpairedFlow(c analyze.Capture, f pathdiff.Flow) {
	o.unpaired[c] = append(o.unpaired[c], flowRef(o.files[c], f.Flow))
}

func (o *diffOutput) fail(err error) {
	if o.err == nil {
		o.err = err
	}
}

// finish writes the flows seen in one capture only and the summary.
func (o *diffOutput) finish(h *pathdiff.Head) error {
	for i := range o.unpaired {
		slices.SortFunc(o.unpaired[i], func(x, y diffFlowRef) int { return int(x.ID) - int(y.ID) })
	}
	o.sum.OnlyA, o.sum.OnlyB = len(o.unpaired[0]), len(o.unpaired[1])
	for i := range h.Summaries {
		// The file part of read's summary, for the same keys.
		fsum := report.Summarize([]report.Input{{Name: o.files[i], Sum: h.Summaries[i], Err: h.Summaries[i].Err}}).Files[0]
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
	case "json":
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
	case "ndjson":
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
	return diffUnpairedRecord{Type: "unpaired", Schema: schemaVersion, Capture: captureKey(c), diffFlowRef: ref}
}

// writeDiffHead renders the top of rwin diff's text report: the two
// captures and the clock offset.
func writeDiffHead(w io.Writer, p palette, files [2]string, h *pathdiff.Head) {
	for i := range h.Summaries {
		m := &h.Summaries[i]
		fmt.Fprintf(w, "%s  %s  %d packets, %d TCP, %s", p.head.Sprint(strings.ToUpper(captureKey(i))),
			shown(files[i]), m.Packets, m.TCP, plural(h.Flows[i], "flow"))
		if m.Packets > 0 {
			fmt.Fprintf(w, ", %s", durationString(time.Duration(m.LastTime-m.FirstTime)))
		}
		fmt.Fprintln(w)
		if m.Err != nil {
			fmt.Fprintf(w, "   %s\n", p.bad.Sprint(oneLine(m.Err.Error())))
		}
	}
	if h.ClockPairs > 0 {
		fmt.Fprintf(w, "clock offset B − A: %+.3f ms (measured on %s)\n", ms(h.ClockOffset), plural(h.ClockPairs, "flow pair"))
	} else {
		fmt.Fprintln(w, p.dim.Sprint("clock offset B − A: unknown (no pair sure enough to measure it)"))
	}
}

// writeDiffTail renders the end of rwin diff's text report: the flows
// seen in one capture only, and the totals.
func writeDiffTail(w io.Writer, p palette, unpaired [2][]diffFlowRef, s *diffSummaryRecord, found *rules.SeverityCounts) {
	for i, only := range unpaired {
		if len(only) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", p.head.Sprintf("only in %s:", strings.ToUpper(captureKey(i))))
		for _, u := range only {
			fmt.Fprintf(w, "  flow %d  %s → %s, packets %d–%d (%d), handshake %s\n",
				u.ID, u.Client, u.Server, u.FirstPacket, u.LastPacket, u.Packets, u.Handshake)
		}
	}
	fmt.Fprintf(w, "\n%s %s (%d high, %d medium, %d low confidence), %d only in A, %d only in B",
		p.head.Sprint("total:"), plural(s.Pairs, "flow pair"), s.ByConfidence["high"], s.ByConfidence["medium"],
		s.ByConfidence["low"], s.OnlyA, s.OnlyB)
	fmt.Fprintf(w, "; findings: %s\n", report.SeverityText(p.report, found))
}
