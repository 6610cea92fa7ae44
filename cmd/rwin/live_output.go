package main

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"rwin/analyze"
	"rwin/capture"
	"rwin/cmd/rwin/report"
	"rwin/rules"
)

// The output of rwin live: flows rendered one at a time as they end, the
// periodic summary of flows in progress, and the closing summary with the
// capture's statistics.

// intervalTop is how many flows an --interval summary shows.
const intervalTop = 10

func newCaptureRecord(o liveOptions, src *capture.Live, stopped string, st capture.LiveStats, stErr error) report.CaptureRecord {
	r := report.CaptureRecord{Interface: src.Name(), LinkType: int(src.Link()), Snaplen: src.Snaplen(),
		Filter: o.capture.Filter, Stopped: stopped, Weakened: []string{}}
	if stErr == nil {
		r.SetStats(st)
	}
	if o.write != "" {
		r.WrittenTo = ptr(o.write)
	}
	return r
}

// liveOutput hands flows to the sink of the chosen format as they end (the
// text sink in its streaming mode), flushing each, and to the metrics
// sink. err keeps the first write error.
type liveOutput struct {
	o     liveOptions
	sink  report.Sink
	text  *report.Text // the sink, in text
	flush func() error // writes what the sink buffered
	count report.Input
	err   error
	// metrics, when set, counts every flow too (--metrics).
	metrics *metricsSink
}

func newLiveOutput(o liveOptions, stdout io.Writer, useColor bool) *liveOutput {
	out := &liveOutput{o: o}
	switch o.format {
	case "json":
		out.sink = report.NewJSON(stdout)
		out.flush = func() error { return nil } // one document, written at the end
	case "ndjson":
		s := report.NewNDJSON(stdout)
		out.sink, out.flush = s, s.Flush
	default:
		out.text = report.NewText(stdout, report.TextOptions{Palette: report.NewPalette(useColor), Verbose: o.verbose, Stream: true})
		out.sink, out.flush = out.text, out.text.Flush
	}
	return out
}

// start prints the header of the text table.
func (out *liveOutput) start() error {
	if out.text != nil {
		out.err = out.text.Start()
	}
	return out.err
}

// flow is the Session's emit function: it evaluates and hands on a flow
// that ended.
func (out *liveOutput) flow(f *analyze.Flow) {
	c := *f // valid only during the call
	found := rules.Evaluate(&c)
	out.count.Count(found)
	r := report.NewFlow(out.o.iface, &c, found)
	if out.metrics != nil {
		out.metrics.flow(&r)
	}
	if out.err != nil {
		return
	}
	out.sink.Flow(0, &r)
	out.err = out.flush()
}

// reopen switches the stream to a new file at the -o name (SIGHUP after
// logrotate renamed it). Every record written so far is flushed to the
// old file first, so none is split or lost; a text table starts again
// with its header. The JSON document, written on a goroutine of its own,
// is only brought to a stop: what its buffer holds goes to the new file.
func (out *liveOutput) reopen(l *logFile) error {
	if b, ok := out.sink.(report.Background); ok {
		b.Sync()
	}
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
	if out.text != nil && out.err == nil {
		out.text.Stopping(why, open)
	}
}

// finish writes the end of the report.
func (out *liveOutput) finish(sum analyze.Summary, capRec report.CaptureRecord) error {
	if out.err != nil {
		return out.err
	}
	in := out.count
	in.Name, in.Sum = out.o.iface, sum
	out.sink.EndInput(0, &in)
	out.err = out.sink.Close(&report.Run{Inputs: []report.Input{in}, Capture: &capRec})
	return out.err
}

// writeInterval summarizes the flows in progress, worst first.
func writeInterval(w io.Writer, p report.Palette, src *capture.Live, sess *analyze.Session, now int64) {
	var flows []report.Flow
	sess.Snapshot(func(f *analyze.Flow) {
		c := *f
		flows = append(flows, report.NewFlow(src.Name(), &c, rules.Evaluate(&c)))
	})
	report.SortWorstFirst(flows)
	sum := sess.Summary()
	drops := ""
	if st, err := src.Stats(); err == nil {
		drops = fmt.Sprintf(", %d dropped by the kernel", st.Dropped+st.IfDropped)
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s %s in progress; %d packets so far%s\n",
		p.Head.Sprintf("— %s %s:", time.Unix(0, now).Format("15:04:05"), src.Name()), plural(len(flows), "flow"), sum.Packets, drops)
	if len(flows) > 0 {
		shown := flows[:min(len(flows), intervalTop)]
		report.WriteTable(bw, p, shown)
		if more := len(flows) - len(shown); more > 0 {
			fmt.Fprintf(bw, "  %s\n", p.Dim.Sprintf("… and %d more", more))
		}
	}
	bw.Flush()
}
