package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"rwin/analyze"
	"rwin/capture"
	"rwin/rules"
)

// liveOptions are the flags of `rwin live`.
type liveOptions struct {
	iface    string
	list     bool
	count    uint64
	duration time.Duration
	interval time.Duration
	format   string
	color    string
	verbose  bool
	write    string
	capture  capture.LiveConfig
	cfg      analyze.Config
}

// intervalTop is how many flows an --interval summary shows.
const intervalTop = 10

// parseLive reads the command line of `rwin live`. Words that are not
// flags form the BPF filter, as with tcpdump.
func parseLive(args []string, stderr io.Writer) (liveOptions, error) {
	var o liveOptions
	var bufKiB int
	fs := flag.NewFlagSet("live", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.iface, "i", "", "capture on this `interface` (rwin live -D lists them)")
	fs.BoolVar(&o.list, "D", false, "list the interfaces rwin can capture on, and exit")
	fs.StringVar(&o.capture.Filter, "f", "", "BPF filter `expression`, as tcpdump takes it (or give it after the flags)")
	fs.Uint64Var(&o.count, "c", 0, "stop after this many packets (0: no limit)")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (0: until interrupted)")
	fs.DurationVar(&o.interval, "interval", 0, "every this long, summarize the flows in progress on standard error, worst windows first (0: never)")
	fs.DurationVar(&o.cfg.IdleTimeout, "idle", analyze.DefaultIdleTimeout, "report a flow once it has been quiet this long")
	fs.DurationVar(&o.cfg.Linger, "linger", analyze.DefaultLiveLinger, "report a closed flow (FIN both ways, or RST) once quiet this long, so late packets still count")
	fs.IntVar(&o.cfg.MaxFlows, "max-flows", analyze.DefaultMaxFlows, "cap on flows in progress; past it the least recently active is reported early and counted as evicted")
	fs.StringVar(&o.format, "format", "text", "output `format`: text, json or ndjson (one line per flow as it ends)")
	fs.StringVar(&o.color, "color", "auto", "color text output: auto, always or never (NO_COLOR is honored)")
	fs.BoolVar(&o.verbose, "v", false, "per-flow detail in text output")
	fs.StringVar(&o.write, "w", "", "also write every captured packet to this pcap `file`")
	fs.IntVar(&o.capture.Snaplen, "s", capture.DefaultLiveSnaplen, "snapshot length: bytes kept of each packet (the default keeps every header)")
	fs.IntVar(&bufKiB, "B", capture.DefaultLiveBuffer>>10, "kernel capture buffer in KiB")
	fs.BoolVar(&o.capture.Promiscuous, "p", false, "promiscuous mode: also capture traffic not addressed to this host")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: rwin live -i IFACE [flags] [BPF expression]
       rwin live -D

Captures on a network interface and reports each TCP flow when it ends
(FIN both ways or RST, then the linger time; or the idle timeout), with
the same analysis as rwin read. On Ctrl-C (SIGINT) or SIGTERM it reports
the flows still in progress, then the capture's statistics, including the
packets the kernel dropped. Capturing needs root, or the capabilities
cap_net_raw and cap_net_admin.

Flags:
`)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return o, err
	}
	if expr := strings.Join(pos, " "); expr != "" {
		if o.capture.Filter != "" {
			return o, errors.New("live: give the filter either with -f or after the flags, not both")
		}
		o.capture.Filter = expr
	}
	if o.list {
		return o, nil
	}
	if o.iface == "" {
		fs.Usage()
		return o, errUsage
	}
	switch o.format {
	case "text", "json", "ndjson":
	default:
		return o, fmt.Errorf("live: unknown format %q (want text, json or ndjson)", o.format)
	}
	switch {
	case o.capture.Snaplen < 1 || o.capture.Snaplen > 262144:
		return o, fmt.Errorf("live: snapshot length %d out of range (1 to 262144)", o.capture.Snaplen)
	case bufKiB < 1 || bufKiB > 1<<21:
		return o, fmt.Errorf("live: buffer size %d KiB out of range (1 to 2097152)", bufKiB)
	case o.duration < 0 || o.interval < 0:
		return o, errors.New("live: --duration and --interval cannot be negative")
	case o.cfg.IdleTimeout <= 0:
		return o, errors.New("live: --idle must be positive: flows in progress would never be reported")
	case o.cfg.Linger <= 0:
		return o, errors.New("live: --linger must be positive")
	case o.cfg.MaxFlows < 1:
		return o, errors.New("live: --max-flows must be at least 1")
	case o.write == "-":
		return o, errors.New("live: -w - is not supported: the report goes to standard output; name a file")
	}
	o.capture.BufferSize = bufKiB << 10
	return o, nil
}

func cmdLive(args []string, stdout, stderr io.Writer) (int, error) {
	o, err := parseLive(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, nil
		}
		return exitInput, err
	}
	if o.list {
		return exitOK, listInterfaces(stdout)
	}
	useColor, err := colorWanted(o.color, stdout)
	if err != nil {
		return exitInput, err
	}
	errColor, _ := colorWanted(o.color, stderr)

	src, err := capture.OpenLive(o.iface, o.capture)
	if err != nil {
		return exitInput, liveOpenError(err)
	}
	defer src.Close()

	var pcapOut *bufio.Writer
	var pw *capture.PcapWriter
	if o.write != "" {
		f, err := os.Create(o.write)
		if err != nil {
			return exitInput, fmt.Errorf("live: -w: %w", err)
		}
		defer f.Close()
		pcapOut = bufio.NewWriterSize(f, 64<<10)
		if pw, err = capture.NewPcapWriter(pcapOut, src.Link(), src.Snaplen()); err != nil {
			return exitInput, fmt.Errorf("live: -w %s: %w", o.write, err)
		}
	}

	out := newLiveOutput(o, stdout, useColor)
	if err := out.start(); err != nil {
		return exitInput, fmt.Errorf("writing output: %w", err)
	}
	fmt.Fprintf(stderr, "rwin: listening on %s, link type %d, snapshot length %d bytes; Ctrl-C to stop\n",
		src.Name(), src.Link(), src.Snaplen())

	stop := &liveStop{src: src}
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigc)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case sig := <-sigc:
			// A second signal then ends the process the usual way.
			signal.Stop(sigc)
			stop.stop(signalName(sig))
		case <-done:
		}
	}()
	if o.duration > 0 {
		t := time.AfterFunc(o.duration, func() { stop.stop("duration") })
		defer t.Stop()
	}

	sess := analyze.NewSession(src.Name(), o.cfg, out.flow)
	var (
		pkt       capture.Packet
		failure   error // what ended the capture early
		lastFlush = time.Now().UnixNano()
		nextSum   = lastFlush + int64(o.interval)
	)
capture:
	for {
		var now int64
		switch err := src.Next(&pkt); {
		case err == nil:
			if pw != nil {
				if err := pw.Write(&pkt); err != nil {
					failure = fmt.Errorf("live: -w %s: %w", o.write, err)
					stop.stop("error")
				}
			}
			sess.Add(&pkt)
			if o.count > 0 && pkt.Index >= o.count {
				stop.stop("count")
			}
			now = pkt.Time
		case errors.Is(err, capture.ErrNoPacket):
			now = time.Now().UnixNano()
			sess.Advance(now)
		case err == io.EOF:
			break capture
		default:
			failure = err
			stop.stop("error")
			break capture
		}
		if out.err != nil {
			failure = fmt.Errorf("writing output: %w", out.err)
			stop.stop("error")
		}
		if now-lastFlush >= int64(time.Second) {
			lastFlush = now
			// A capture file that is at most a second behind is evidence
			// even if rwin is killed.
			if pcapOut != nil {
				if err := pcapOut.Flush(); err != nil && failure == nil {
					failure = fmt.Errorf("live: -w %s: %w", o.write, err)
					stop.stop("error")
				}
			}
		}
		if o.interval > 0 && now >= nextSum {
			nextSum = now + int64(o.interval)
			writeInterval(stderr, newPalette(errColor), src, sess, now)
		}
	}

	stats, statsErr := src.Stats()
	out.stopping(stop.reason(), sess.Live())
	sum := sess.Close()
	if pcapOut != nil {
		if err := pcapOut.Flush(); err != nil && failure == nil {
			failure = fmt.Errorf("live: -w %s: %w", o.write, err)
		}
	}
	capRec := newCaptureRecord(o, src, stop.reason(), stats, statsErr)
	if err := out.finish(sum, capRec); err != nil {
		return exitInput, fmt.Errorf("writing output: %w", err)
	}
	for _, w := range sum.Warnings {
		fmt.Fprintf(stderr, "rwin: warning: %s\n", oneLine(w))
	}
	if sum.MoreWarned > 0 {
		fmt.Fprintf(stderr, "rwin: warning: %s: %d more packet warnings not shown\n", src.Name(), sum.MoreWarned)
	}
	if statsErr != nil {
		fmt.Fprintf(stderr, "rwin: warning: %s\n", oneLine(statsErr.Error()))
	}
	if failure != nil {
		return exitInput, failure
	}
	return exitOK, nil
}

// liveOpenError adds what the user can do about a failure to open the
// interface: the real interfaces for a wrong name, the capabilities for a
// missing permission. libpcap's message for a bad filter is enough.
func liveOpenError(err error) error {
	switch {
	case errors.Is(err, capture.ErrNoInterface):
		names := "none found"
		if ifs, lerr := capture.Interfaces(); lerr == nil && len(ifs) > 0 {
			var list []string
			for _, i := range ifs {
				list = append(list, i.Name)
			}
			names = strings.Join(list, ", ")
		}
		return fmt.Errorf("%w; interfaces: %s", err, names)
	case errors.Is(err, capture.ErrPermission):
		exe := "$(which rwin)"
		if p, perr := os.Executable(); perr == nil {
			exe = p
		}
		return fmt.Errorf("%w: run as root, or grant rwin the capture capabilities: sudo setcap cap_net_raw,cap_net_admin=eip %s", err, exe)
	}
	return err
}

// liveStop records why a capture stopped, first reason wins, and stops
// the source. Safe from any goroutine.
type liveStop struct {
	mu  sync.Mutex
	why string
	src *capture.Live
}

func (s *liveStop) stop(why string) {
	s.mu.Lock()
	if s.why == "" {
		s.why = why
	}
	s.mu.Unlock()
	s.src.Stop()
}

func (s *liveStop) reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.why
}

func signalName(sig os.Signal) string {
	if sig == syscall.SIGTERM {
		return "terminated"
	}
	return "interrupt"
}

// listInterfaces prints the capture devices like tcpdump -D, with their
// addresses.
func listInterfaces(w io.Writer) error {
	ifs, err := capture.Interfaces()
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	for n, i := range ifs {
		var flags []string
		for _, f := range []struct {
			on   bool
			name string
		}{{i.Loopback, "Loopback"}, {i.Up, "Up"}, {i.Running, "Running"}, {i.Wireless, "Wireless"}} {
			if f.on {
				flags = append(flags, f.name)
			}
		}
		if i.Connection != "" {
			flags = append(flags, strings.ToUpper(i.Connection[:1])+i.Connection[1:])
		}
		fmt.Fprintf(bw, "%d.%s", n+1, i.Name)
		if i.Description != "" {
			fmt.Fprintf(bw, " (%s)", i.Description)
		}
		if len(flags) > 0 {
			fmt.Fprintf(bw, " [%s]", strings.Join(flags, ", "))
		}
		fmt.Fprintln(bw)
		for _, a := range i.Addrs {
			fmt.Fprintf(bw, "    %s\n", a)
		}
	}
	return bw.Flush()
}

// captureRecord is what a live capture adds to the summary: where and how
// it captured, why it stopped and what the kernel dropped.
type captureRecord struct {
	Interface string `json:"interface"`
	LinkType  int    `json:"link_type"`
	Snaplen   int    `json:"snaplen"`
	Filter    string `json:"filter"`
	// Stopped: interrupt, terminated, count, duration or error.
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
	if ns := pathRTT(r.flow); ns > 0 {
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
