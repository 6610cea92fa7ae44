package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"rwin/analyze"
	"rwin/capture"
	"rwin/rules"
)

// The output of rwin live: flows rendered one at a time as they end, the
// periodic summary of flows in progress, and the closing summary with the
// capture's statistics.

// intervalTop is how many flows an --interval summary shows.
const intervalTop = 10

// captureRecord is what a live capture adds to the summary: where and how
// it captured, why it stopped and what the kernel dropped.
type captureRecord struct {
	Interface string `json:"interface"`
	LinkType  int    `json:"link_type"`
	Snaplen   int    `json:"snaplen"`
	Filter    string `json:"filter"`
	// Stopped: interrupt, terminated, hangup, count, duration or error.
	Stopped string `json:"stopped"`
	// Kernel counters; null when libpcap could not read them.
	Received  *uint64 `json:"received"`
	Dropped   *uint64 `json:"dropped"`
	IfDropped *uint64 `json:"if_dropped"`
	// Weakened names the conclusions that dropped packets make less sure.
	Weakened []string `json:"weakened"`
	// WrittenTo is the -w file, or null.
	WrittenTo *string `json:"written_to"`
}

func newCaptureRecord(o liveOptions, src *capture.Live, stopped string, st capture.LiveStats, stErr error) captureRecord {
	r := captureRecord{Interface: src.Name(), LinkType: int(src.Link()), Snaplen: src.Snaplen(),
		Filter: o.capture.Filter, Stopped: stopped, Weakened: []string{}}
	if stErr == nil {
		r.Received, r.Dropped, r.IfDropped = ptr(st.Received), ptr(st.Dropped), ptr(st.IfDropped)
		r.Weakened = dropsWeaken(st)
	}
	if o.write != "" {
		r.WrittenTo = ptr(o.write)
	}
	return r
}

// dropsWeaken lists what a capture that missed packets can get wrong. The
// analyzer sees only what the capture saw: a dropped ACK leaves data
// looking unacknowledged, a dropped segment hides a transmission.
func dropsWeaken(st capture.LiveStats) []string {
	if st.Dropped+st.IfDropped == 0 {
		return []string{}
	}
	return []string{
		"rtt: a dropped ACK stretches the next RTT sample",
		"in-flight: a dropped ACK inflates bytes in flight and the share of segments at the window",
		"inferred-shift: inflated bytes in flight can raise an inferred minimum shift",
		"retransmissions: a dropped original makes its retransmission look like new data, so counts run low",
		"handshake: a dropped SYN or SYN-ACK leaves a flow's options, and so its scale, unknown",
	}
}

// liveOutput renders flows as they end and the report at the end, in the
// chosen format. err keeps the first write error; later writes are
// skipped.
type liveOutput struct {
	o        liveOptions
	w        *bufio.Writer
	p        palette
	enc      *json.Encoder
	flows    []flowRecord // --format json: every flow, for the one document
	count    int
	severity map[string]int
	err      error
	// metrics, when set, counts every flow too (--metrics).
	metrics *metricsSink
}

func newLiveOutput(o liveOptions, stdout io.Writer, useColor bool) *liveOutput {
	out := &liveOutput{o: o, w: bufio.NewWriter(stdout), p: newPalette(useColor),
		severity: map[string]int{"info": 0, "warn": 0, "error": 0}}
	out.enc = json.NewEncoder(out.w)
	return out
}

// start prints the header of the text table.
func (out *liveOutput) start() error {
	if out.o.format == "text" && !out.o.verbose {
		out.row(out.p.head.Sprint, "ID", "CLIENT → SERVER", "SVC", "HANDSHAKE", "SCALE c/s", "RWIN client", "RWIN server",
			"RTT", "c→s", "s→c", "FINDINGS")
	}
	return out.flush()
}

// liveColumns are the widths of the text table's columns but the last:
// flows are printed one at a time, so the columns cannot be fitted to
// them.
var liveColumns = []int{5, 45, 6, 12, 9, 11, 11, 9, 12, 12}

func (out *liveOutput) row(style func(...any) string, cells ...string) {
	var b strings.Builder
	for i, c := range cells {
		if i < len(liveColumns) {
			pad := liveColumns[i] - len([]rune(c))
			if i == 0 || i >= 5 { // numbers align right
				b.WriteString(strings.Repeat(" ", max(pad, 0)) + c + "  ")
			} else {
				b.WriteString(c + strings.Repeat(" ", max(pad, 0)) + "  ")
			}
			continue
		}
		b.WriteString(c)
	}
	fmt.Fprintln(out.w, style(strings.TrimRight(b.String(), " ")))
}

// flow is the Session's emit function: it evaluates and renders a flow
// that ended.
func (out *liveOutput) flow(f *analyze.Flow) {
	c := *f // valid only during the call
	r := newFlowRecord(out.o.iface, &c, rules.Evaluate(&c))
	out.count++
	for _, x := range r.Findings {
		out.severity[x.Severity]++
	}
	if out.metrics != nil {
		out.metrics.flow(&r)
	}
	if out.err != nil {
		return
	}
	switch out.o.format {
	case "json":
		out.flows = append(out.flows, r)
		return
	case "ndjson":
		out.err = out.enc.Encode(&r)
	default:
		if out.o.verbose {
			writeDetail(out.w, out.p, &r)
			fmt.Fprintln(out.w)
		} else {
			out.textRow(&r)
		}
	}
	if out.err == nil {
		out.err = out.flush()
	}
}

func (out *liveOutput) textRow(r *flowRecord) {
	svc, rtt := "-", "-"
	if r.Service != nil {
		svc = *r.Service
	}
	if ns := r.flow.PathRTT(); ns > 0 {
		rtt = rules.Duration(ns)
	}
	out.row(fmt.Sprint, fmt.Sprint(r.ID), r.Client+" → "+r.Server, svc, r.Handshake, scaleCell(r.flow),
		rwinCell(r.RWIN["client"]), rwinCell(r.RWIN["server"]), rtt,
		rateCell(r.Traffic["client"].ThroughputBPS), rateCell(r.Traffic["server"].ThroughputBPS), findingsCell(out.p, r.find))
}

func (out *liveOutput) flush() error {
	if out.err != nil {
		return out.err
	}
	out.err = out.w.Flush()
	return out.err
}

// reopen switches the stream to a new file at the -o name (SIGHUP after
// logrotate renamed it). Every record written so far is flushed to the
// old file first, so none is split or lost; a text table starts again
// with its header.
func (out *liveOutput) reopen(l *logFile) error {
	if err := out.flush(); err != nil {
		return err
	}
	if err := l.reopen(); err != nil {
		return err
	}
	return out.start()
}

// stopping announces, in text, the flows about to be flushed.
func (out *liveOutput) stopping(why string, open int) {
	if out.o.format != "text" || out.err != nil || open == 0 {
		return
	}
	fmt.Fprintln(out.w, out.p.dim.Sprintf("— stopped (%s): the %s not reported yet, as they stand —", why, plural(open, "flow")))
	out.flush()
}

// finish writes the end of the report.
func (out *liveOutput) finish(sum analyze.Summary, capRec captureRecord) error {
	if out.err != nil {
		return out.err
	}
	res := []fileResult{{name: out.o.iface, sum: sum}}
	s := summarize(res)
	s.Flows, s.Files[0].Flows, s.Findings = out.count, out.count, out.severity
	rec := liveSummaryRecord{summaryRecord: s, Capture: capRec}
	switch out.o.format {
	case "json":
		doc := struct {
			Schema  int               `json:"schema"`
			Flows   []flowRecord      `json:"flows"`
			Summary liveSummaryRecord `json:"summary"`
		}{schemaVersion, out.flows, rec}
		if doc.Flows == nil {
			doc.Flows = []flowRecord{}
		}
		out.enc.SetIndent("", "  ")
		out.err = out.enc.Encode(doc)
	case "ndjson":
		out.err = out.enc.Encode(rec)
	default:
		out.textSummary(sum, rec)
	}
	return out.flush()
}

// liveSummaryRecord is the summary record of a live capture: the summary
// of rwin read plus the capture's own facts.
type liveSummaryRecord struct {
	summaryRecord
	Capture captureRecord `json:"capture"`
}

func (out *liveOutput) textSummary(sum analyze.Summary, rec liveSummaryRecord) {
	w, p, c := out.w, out.p, rec.Capture
	fmt.Fprintf(w, "\n%s  %d packets, %d TCP, %s", p.head.Sprint(c.Interface), sum.Packets, sum.TCP, plural(out.count, "flow"))
	if sum.Packets > 0 {
		fmt.Fprintf(w, ", %s", durationString(sum.LastTime-sum.FirstTime))
	}
	if skipped := sum.Packets - sum.TCP; skipped > 0 {
		fmt.Fprintf(w, " %s", p.dim.Sprintf("(%d not TCP or not decodable)", skipped))
	}
	fmt.Fprintf(w, "; stopped: %s\n", c.Stopped)
	if c.Received != nil {
		line := fmt.Sprintf("kernel: %d packets received, %d dropped", *c.Received, *c.Dropped)
		if *c.IfDropped > 0 {
			line += fmt.Sprintf(", %d dropped by the interface", *c.IfDropped)
		}
		if len(c.Weakened) == 0 {
			fmt.Fprintf(w, "  %s\n", p.dim.Sprint(line))
		} else {
			fmt.Fprintf(w, "  %s\n", p.warn.Sprint(line+"; these conclusions are less sure:"))
			for _, x := range c.Weakened {
				fmt.Fprintf(w, "    %s\n", x)
			}
			fmt.Fprintf(w, "  %s\n", p.dim.Sprint("raise -B, lower -s or narrow the filter to drop less"))
		}
	}
	if sum.TruncOpts > 0 {
		fmt.Fprintf(w, "  %s\n", p.dim.Sprintf("%d segments had options cut by the snaplen (header fields kept)", sum.TruncOpts))
	}
	writeUnanswered(w, p, &sum.Unanswered)
	if sum.Analyzer.Evicted > 0 {
		fmt.Fprintf(w, "  %s\n", p.warn.Sprintf("flow table full: %d flows reported early (raise --max-flows)", sum.Analyzer.Evicted))
	}
	if c.WrittenTo != nil {
		fmt.Fprintf(w, "  %s\n", p.dim.Sprintf("packets written to %s", *c.WrittenTo))
	}
	fmt.Fprintf(w, "%s %s; findings: %s, %s, %s\n", p.head.Sprint("total:"), plural(out.count, "flow"),
		p.bad.Sprintf("%d error", rec.Findings["error"]), p.warn.Sprintf("%d warn", rec.Findings["warn"]),
		p.info.Sprintf("%d info", rec.Findings["info"]))
}

// writeInterval summarizes the flows in progress, worst first.
func writeInterval(w io.Writer, p palette, src *capture.Live, sess *analyze.Session, now int64) {
	var recs []flowRecord
	sess.Snapshot(func(f *analyze.Flow) {
		c := *f
		recs = append(recs, newFlowRecord(src.Name(), &c, rules.Evaluate(&c)))
	})
	sortWorstFirst(recs)
	sum := sess.Summary()
	drops := ""
	if st, err := src.Stats(); err == nil {
		drops = fmt.Sprintf(", %d dropped by the kernel", st.Dropped+st.IfDropped)
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s %s in progress; %d packets so far%s\n",
		p.head.Sprintf("— %s %s:", time.Unix(0, now).Format("15:04:05"), src.Name()), plural(len(recs), "flow"), sum.Packets, drops)
	if len(recs) > 0 {
		shown := recs[:min(len(recs), intervalTop)]
		writeTable(bw, p, shown)
		if more := len(recs) - len(shown); more > 0 {
			fmt.Fprintf(bw, "  %s\n", p.dim.Sprintf("… and %d more", more))
		}
	}
	bw.Flush()
}

// sortWorstFirst orders flows by their most severe finding, then by the
// smaller of their two median effective windows (a known window before an
// unknown one), then by ID.
func sortWorstFirst(recs []flowRecord) {
	slices.SortFunc(recs, func(a, b flowRecord) int {
		if d := topSeverity(b) - topSeverity(a); d != 0 {
			return d
		}
		wa, oka := smallestWindow(a)
		wb, okb := smallestWindow(b)
		switch {
		case oka && okb && wa != wb:
			if wa < wb {
				return -1
			}
			return 1
		case oka != okb:
			if oka {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

func topSeverity(r flowRecord) int {
	if len(r.find) == 0 {
		return -1
	}
	return int(r.find[0].Severity)
}

// smallestWindow is the smaller median effective window of the two
// endpoints, where known.
func smallestWindow(r flowRecord) (uint64, bool) {
	var best uint64
	ok := false
	for _, side := range []string{"client", "server"} {
		if m := r.RWIN[side].Median; m != nil && (!ok || *m < best) {
			best, ok = *m, true
		}
	}
	return best, ok
}
