package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fatih/color"

	"rwin/analyze"
	"rwin/capture"
	"rwin/rules"
)

// palette holds the colors of text output, all disabled when color is off.
type palette struct {
	head, dim, bad, warn, info, good *color.Color
	on                               bool // colors are written
}

func newPalette(on bool) palette {
	p := palette{
		head: color.New(color.Bold), dim: color.New(color.Faint),
		bad: color.New(color.FgRed, color.Bold), warn: color.New(color.FgYellow),
		info: color.New(color.FgCyan), good: color.New(color.FgGreen), on: on,
	}
	for _, c := range []*color.Color{p.head, p.dim, p.bad, p.warn, p.info, p.good} {
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return p
}

func (p palette) severity(s rules.Severity) *color.Color {
	switch s {
	case rules.Error:
		return p.bad
	case rules.Warn:
		return p.warn
	}
	return p.info
}

// writeText renders the human report: per input a table of flows, with -v
// a detail block per flow, then a one-line summary. The rows and details
// were rendered as the flows finished (see collector).
func writeText(out io.Writer, results []fileResult, verbose bool, p palette) error {
	w := bufio.NewWriter(out)
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		writeFileHeader(w, p, &r)
		if r.flows == 0 {
			fmt.Fprintln(w, p.dim.Sprint("  no TCP flows"))
			continue
		}
		rows := make([]string, len(r.listed))
		for i := range r.listed {
			rows[i] = r.listed[i].row
		}
		writeAligned(w, tableHead(p), rows)
		if r.unlisted > 0 {
			fmt.Fprintf(w, "  %s\n", p.warn.Sprintf("%d more flows not listed: the table keeps %d, those with the most severe findings and real connections first (--format ndjson lists every flow)",
				r.unlisted, maxListed))
		}
		if verbose {
			for _, lf := range r.listed {
				fmt.Fprintln(w)
				fmt.Fprint(w, lf.detail)
			}
		}
	}
	s := summarize(results)
	fmt.Fprintf(w, "\n%s %d packets, %d TCP, %s", p.head.Sprint("total:"), s.Packets, s.TCP, plural(s.Flows, "flow"))
	fmt.Fprintf(w, "; findings: %s, %s, %s\n",
		p.bad.Sprintf("%d error", s.Findings["error"]), p.warn.Sprintf("%d warn", s.Findings["warn"]),
		p.info.Sprintf("%d info", s.Findings["info"]))
	return w.Flush()
}

func writeFileHeader(w io.Writer, p palette, r *fileResult) {
	m := &r.sum
	fmt.Fprintf(w, "%s  %d packets, %d TCP, %s", p.head.Sprint(shown(r.name)), m.Packets, m.TCP, plural(r.flows, "flow"))
	if m.Packets > m.Untimed {
		fmt.Fprintf(w, ", %s", durationString(m.LastTime-m.FirstTime))
	}
	var skipped []string
	for _, s := range m.Skipped() {
		skipped = append(skipped, fmt.Sprintf("%d %s", s.N, s.Reason))
	}
	if len(skipped) > 0 {
		fmt.Fprintf(w, " %s", p.dim.Sprintf("(skipped: %s)", strings.Join(skipped, ", ")))
	}
	fmt.Fprintln(w)
	if m.TruncOpts > 0 {
		fmt.Fprintf(w, "  %s\n", p.dim.Sprintf("%d segments had options cut by the snaplen (header fields kept)", m.TruncOpts))
	}
	if m.Untimed > 0 {
		fmt.Fprintf(w, "  %s\n", p.warn.Sprintf("%d packets carry no timestamp (pcapng simple packet blocks): durations and rates leave them out", m.Untimed))
	}
	writeUnanswered(w, p, &m.Unanswered)
	if m.Analyzer.Evicted > 0 {
		fmt.Fprintf(w, "  %s\n", p.warn.Sprintf("flow table full: %d flows finished early (raise --max-flows)", m.Analyzer.Evicted))
	}
	if d := m.Analyzer.Duplicates; d > 0 {
		fmt.Fprintf(w, "  %s\n", p.dim.Sprintf("%d duplicate packets (%.1f %%) ignored: copies the capture recorded twice (pktmon, SPAN, merged captures)",
			d, 100*float64(d)/float64(max(m.TCP, 1))))
	}
	if r.err != nil {
		if m.CutShort() {
			fmt.Fprintf(w, "  %s\n", p.bad.Sprintf("capture cut short: results cover the %d packets read", m.Packets))
		} else {
			fmt.Fprintf(w, "  %s\n", p.bad.Sprint(oneLine(r.err.Error())))
		}
	}
}

// writeTable prints one row per flow.
func writeTable(out io.Writer, p palette, flows []flowRecord) {
	rows := make([]string, len(flows))
	for i := range flows {
		rows[i] = flowRow(p, flows[i].flow, flows[i].find)
	}
	writeAligned(out, tableHead(p), rows)
}

// tableHead is the heading of the flow table, over the cells of flowRow.
func tableHead(p palette) string {
	return p.head.Sprint("  ID\tCLIENT → SERVER\tSVC\tHANDSHAKE\tSCALE c/s\tRWIN client\tRWIN server\tRTT\tc→s\ts→c\tFINDINGS")
}

// writeAligned writes the heading and rows, tab-separated cells, with
// every cell but a line's last padded to its column's widest plus two
// spaces: what text/tabwriter.NewWriter(out, 0, 0, 2, ' ', 0) writes for
// lines with the same number of cells, except that a cell's width is what
// a terminal shows: the ANSI color sequences of colored output take no
// room. One pass measures, one lays out; it runs once, after the
// analysis, and a 38,700-row table takes a few milliseconds
// (BenchmarkWriteAligned), so it stays on one goroutine.
func writeAligned(out io.Writer, head string, rows []string) {
	widths := measureCells(nil, head)
	for _, r := range rows {
		widths = measureCells(widths, r)
	}
	const padding = 2
	spaces := strings.Repeat(" ", slices.Max(append(widths, 0))+padding)
	bw := bufio.NewWriterSize(out, 64<<10)
	for i := -1; i < len(rows); i++ {
		line := head
		if i >= 0 {
			line = rows[i]
		}
		for col := 0; ; col++ {
			tab := strings.IndexByte(line, '\t')
			if tab < 0 {
				break
			}
			bw.WriteString(line[:tab])
			bw.WriteString(spaces[:widths[col]-shownWidth(line[:tab])+padding])
			line = line[tab+1:]
		}
		bw.WriteString(line)
		bw.WriteByte('\n')
	}
	bw.Flush()
}

// measureCells raises widths[col] to the shown width of each cell of line
// but its last, growing widths as needed.
func measureCells(widths []int, line string) []int {
	for col := 0; ; col++ {
		tab := strings.IndexByte(line, '\t')
		if tab < 0 {
			return widths
		}
		if col == len(widths) {
			widths = append(widths, 0)
		}
		widths[col] = max(widths[col], shownWidth(line[:tab]))
		line = line[tab+1:]
	}
}

// shownWidth is how many columns a terminal gives s: its runes, less the
// ANSI control sequences (ESC '[' parameters, then a final byte in
// 0x40–0x7E, ECMA-48 §5.4) that color it.
func shownWidth(s string) int {
	if strings.IndexByte(s, 0x1b) < 0 {
		return utf8.RuneCountInString(s)
	}
	n := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			i += 2
			for i < len(s) && (s[i] < 0x40 || s[i] > 0x7e) {
				i++
			}
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return n
}

// flowRow is the table row of a flow, its cells separated by tabs. Windows
// are medians of what each side advertised, scaled; "≥" marks an inferred
// lower bound, "raw" an unknown scale. It reads the flow directly rather
// than its record: the record's maps are most of what a row would cost.
func flowRow(p palette, f *analyze.Flow, found []rules.Finding) string {
	var buf [256]byte
	b := append(buf[:0], "  "...)
	b = strconv.AppendUint(b, f.ID, 10)
	b = append(b, '\t')
	b = f.Client.Addr.AppendTo(b)
	b = append(b, " → "...)
	b = f.Server.Addr.AppendTo(b)
	b = append(b, '\t')
	if f.Service == "" {
		b = append(b, '-')
	} else {
		b = append(b, f.Service...)
	}
	b = append(append(b, '\t'), f.Handshake.String()...)
	b = appendScale(append(b, '\t'), f)
	b = appendRWIN(append(b, '\t'), &f.Client)
	b = appendRWIN(append(b, '\t'), &f.Server)
	b = append(b, '\t')
	rtt := f.PathRTT()
	if rtt > 0 {
		b = rules.AppendDuration(b, rtt)
	} else {
		b = append(b, '-')
	}
	for _, s := range []*analyze.Endpoint{&f.Client, &f.Server} {
		b = append(b, '\t')
		if bps, ok := throughputOf(f, s); ok {
			b = rules.AppendRate(b, bps)
		} else if singleFlight(f, s) {
			b = append(b, "1 flight"...)
		} else {
			b = append(b, '-')
		}
	}
	b = appendFindings(append(b, '\t'), p, found)
	return string(b)
}

func scaleCell(f *analyze.Flow) string { return string(appendScale(nil, f)) }

func appendScale(b []byte, f *analyze.Flow) []byte {
	switch f.Negotiated.Scaling {
	case analyze.No:
		return append(b, "off"...)
	case analyze.Yes:
		if f.Client.Shift.Basis != analyze.BasisNegotiated {
			break // a SYN-ACK without its SYN: the client's shift is not known
		}
		b = strconv.AppendUint(b, uint64(f.Client.Shift.Value), 10)
		return strconv.AppendUint(append(b, '/'), uint64(f.Server.Shift.Value), 10)
	}
	side := func(b []byte, s analyze.Shift) []byte {
		switch s.Basis {
		case analyze.BasisNegotiated:
			return strconv.AppendUint(b, uint64(s.Value), 10)
		case analyze.BasisInferred:
			return strconv.AppendUint(append(b, "≥"...), uint64(s.Value), 10)
		}
		return append(b, '?')
	}
	return side(append(side(b, f.Client.Shift), '/'), f.Server.Shift)
}

// appendRWIN appends an endpoint's RWIN cell: its median effective
// window.
func appendRWIN(b []byte, e *analyze.Endpoint) []byte {
	w := &e.Window
	if w.Samples == 0 || e.Shift.Basis == analyze.BasisUnknown {
		return appendRWINCell(b, w.Samples, w.Max, 0, e.Shift.Basis)
	}
	return appendRWINCell(b, w.Samples, w.Max, uint64(e.Shift.Value.Scale(w.Quantile(0.5))), e.Shift.Basis)
}

// rwinCell is appendRWIN for an endpoint's record.
func rwinCell(r rwinRec) string {
	basis := analyze.BasisNegotiated
	switch {
	case r.Median == nil:
		basis = analyze.BasisUnknown
	case r.Basis == "inferred":
		basis = analyze.BasisInferred
	}
	var rawMax uint16
	var median uint64
	if r.RawMax != nil {
		rawMax = *r.RawMax
	}
	if r.Median != nil {
		median = *r.Median
	}
	return string(appendRWINCell(nil, r.Samples, rawMax, median, basis))
}

// appendRWINCell renders the RWIN cell: "-" without windows, the largest
// raw window field when the scale is unknown, else the median effective
// window, "≥" marking an inferred lower bound.
func appendRWINCell(b []byte, samples uint64, rawMax uint16, median uint64, basis analyze.Basis) []byte {
	switch {
	case samples == 0:
		return append(b, '-')
	case basis == analyze.BasisUnknown:
		return strconv.AppendUint(append(b, "raw "...), uint64(rawMax), 10)
	case basis == analyze.BasisInferred:
		b = append(b, "≥"...)
	}
	return rules.AppendBytes(b, median)
}

func rateCell(bps *float64) string {
	if bps == nil {
		return "-"
	}
	return rules.Rate(*bps)
}

func findingsCell(p palette, found []rules.Finding) string {
	return string(appendFindings(nil, p, found))
}

// appendFindings appends the most severe finding and how many more.
func appendFindings(b []byte, p palette, found []rules.Finding) []byte {
	if len(found) == 0 {
		if p.on {
			return append(b, p.good.Sprint("-")...)
		}
		return append(b, '-')
	}
	top := found[0]
	if p.on {
		b = append(b, p.severity(top.Severity).Sprintf("%s %s", top.Severity, top.ID)...)
	} else {
		b = append(append(append(b, top.Severity.String()...), ' '), top.ID...)
	}
	if len(found) > 1 {
		b = strconv.AppendInt(append(b, " +"...), int64(len(found)-1), 10)
	}
	return b
}

// writeDetail prints everything known about one flow (-v).
func writeDetail(w io.Writer, p palette, r *flowRecord) {
	f := r.flow
	svc := ""
	if r.Service != nil {
		svc = " (" + *r.Service + ")"
	}
	fmt.Fprintf(w, "%s %s → %s%s\n", p.head.Sprintf("flow %d", r.ID), r.Client, r.Server, svc)
	fmt.Fprintf(w, "  %-11s packets %d–%d, %s; client/server told by %s\n", "seen", f.FirstPacket, f.LastPacket,
		flowSpan(f), r.RolesFrom)
	if len(r.Encap) > 0 {
		fmt.Fprintf(w, "  %-11s inside %s (addresses and ports are the innermost)\n", "encap", strings.Join(r.Encap, ", "))
	}
	hs := r.Handshake
	if len(r.HandshakeNotes) > 0 {
		hs += " (" + strings.Join(r.HandshakeNotes, ", ") + ")"
	}
	fmt.Fprintf(w, "  %-11s %s\n", "handshake", hs)
	writeHS(w, "SYN", &f.SYN, f.SYNs)
	if f.SYNs > 1 && f.AnsweredSYN.Seen && f.AnsweredSYN.Packet != f.SYN.Packet {
		writeHS(w, "answered", &f.AnsweredSYN, 0)
	}
	writeHS(w, "SYN-ACK", &f.SYNACK, f.SYNACKs)
	fmt.Fprintf(w, "  %-11s %s\n", "negotiated", negotiatedText(f))
	for _, side := range []struct {
		name string
		e    *analyze.Endpoint
	}{{"client", &f.Client}, {"server", &f.Server}} {
		fmt.Fprintf(w, "  %-11s %s advertises %s\n", label(side.name == "client", "rwin"), side.name, rwinText(r.RWIN[side.name], side.e))
	}
	fmt.Fprintf(w, "  %-11s %s\n", "rtt", rttText(r))
	for _, side := range []struct {
		name, dir string
	}{{"client", "client→server"}, {"server", "server→client"}} {
		fmt.Fprintf(w, "  %-11s %s %s\n", label(side.name == "client", "traffic"), side.dir, trafficText(r.Traffic[side.name]))
	}
	if len(r.find) == 0 {
		fmt.Fprintf(w, "  %-11s %s\n", "findings", p.good.Sprint("none"))
		return
	}
	fmt.Fprintf(w, "  %s\n", "findings")
	for _, x := range r.find {
		evidence := make([]string, len(x.Evidence))
		for i, e := range x.Evidence {
			evidence[i] = fmt.Sprintf("packet %d: %s", e.Packet, e.What)
		}
		writeFinding(w, p, &x, evidence)
	}
}

// writeFinding prints one finding of a detail block: its headline, why,
// each line of evidence and the advice.
func writeFinding(w io.Writer, p palette, x *rules.Finding, evidence []string) {
	fmt.Fprintf(w, "    %s %s (%s confidence, %s): %s\n", p.severity(x.Severity).Sprintf("%-5s", strings.ToUpper(x.Severity.String())),
		x.ID, x.Confidence, x.Direction, x.Summary)
	fmt.Fprintf(w, "          %s %s\n", p.dim.Sprint("why:"), x.Why)
	for _, e := range evidence {
		fmt.Fprintf(w, "          %s %s\n", p.dim.Sprint("evidence:"), e)
	}
	fmt.Fprintf(w, "          %s %s\n", p.dim.Sprint("advice:"), x.Advice)
}

// label shows a row title on the first of a pair of rows only.
func label(first bool, s string) string {
	if first {
		return s
	}
	return ""
}

func writeHS(w io.Writer, name string, hs *analyze.HandshakeSegment, count int) {
	if !hs.Seen {
		fmt.Fprintf(w, "  %-11s not captured\n", name)
		return
	}
	o := &hs.Opts
	var parts []string
	opt := func(has capture.OptSet, on, off string) {
		if o.Has&has != 0 {
			parts = append(parts, on)
		} else {
			parts = append(parts, off)
		}
	}
	if o.Has&capture.HasMSS != 0 {
		parts = append(parts, fmt.Sprintf("mss %d", o.MSS))
	} else {
		parts = append(parts, "mss -")
	}
	if o.Has&capture.HasWScale != 0 {
		parts = append(parts, fmt.Sprintf("ws %d", o.WScale))
	} else {
		parts = append(parts, "ws -")
	}
	opt(capture.HasSACKPerm, "sack-perm", "no-sack")
	opt(capture.HasTimestamp, "ts", "no-ts")
	layout := o.Layout.String()
	if layout == "" {
		layout = "(no options)"
	}
	extra := ""
	if count > 1 {
		extra = fmt.Sprintf(", ×%d", count)
	}
	if o.Truncated {
		extra += ", options cut by snaplen"
	}
	if o.Issue.Problem != capture.OptOK {
		extra += ", malformed: " + o.Issue.String()
	}
	fmt.Fprintf(w, "  %-11s packet %d: %s; layout %s; window %d, ttl %d%s\n", name, hs.Packet,
		strings.Join(parts, ", "), layout, hs.Window, hs.TTL, extra)
}

func negotiatedText(f *analyze.Flow) string {
	n := f.Negotiated
	var sc string
	switch n.Scaling {
	case analyze.Yes:
		client := "unknown"
		if f.Client.Shift.Basis == analyze.BasisNegotiated {
			client = strconv.Itoa(int(f.Client.Shift.Value))
		}
		sc = fmt.Sprintf("scaling on (client shift %s, server shift %d)", client, f.Server.Shift.Value)
	case analyze.No:
		sc = "scaling off (windows are used as they are)"
	default:
		sc = "scaling unknown"
	}
	switch n.ScalingFrom {
	case analyze.ScalingFromSYNACK:
		sc += ", settled by the SYN-ACK alone (RFC 7323 §2.2)"
	case analyze.ScalingFromSYN:
		sc += ", settled by the SYN alone"
	}
	return fmt.Sprintf("%s; SACK %s; timestamps %s", sc, n.SACK, n.Timestamps)
}

func rwinText(r rwinRec, e *analyze.Endpoint) string {
	if r.Samples == 0 {
		return "no windows (no non-SYN segments)"
	}
	if r.Median == nil {
		return fmt.Sprintf("raw window fields %d–%d (last %d), scale unknown", *r.RawMin, *r.RawMax, *r.RawLast)
	}
	b := func(v *uint64) string { return rules.Bytes(*v) }
	s := fmt.Sprintf("min %s, median %s, max %s, last %s", b(r.Min), b(r.Median), b(r.Max), b(r.Last))
	if !r.Exact {
		s += " (median ±6%)"
	}
	switch r.Basis {
	case "inferred":
		s += fmt.Sprintf("; at least: shift ≥%d inferred from bytes in flight", *r.Shift)
	default:
		s += fmt.Sprintf("; shift %d allows up to %s", *r.Shift, rules.Bytes(*r.MaxAllowed))
	}
	if e.ZeroWindows > 0 {
		s += fmt.Sprintf("; %d zero windows", e.ZeroWindows)
	}
	return s
}

func rttText(r *flowRecord) string {
	var parts []string
	if r.RTT.HandshakeMS != nil {
		parts = append(parts, fmt.Sprintf("handshake %.1f ms (client side %.1f ms, server side %.1f ms)",
			*r.RTT.HandshakeMS, *r.RTT.ClientSideMS, *r.RTT.ServerSideMS))
	}
	for _, d := range []struct {
		name string
		s    *rttSampleStat
	}{{"data to server", r.RTT.ToServer}, {"data to client", r.RTT.ToClient}} {
		if d.s != nil {
			parts = append(parts, fmt.Sprintf("%s %.1f/%.1f/%.1f ms min/mean/max (%s)", d.name, d.s.MinMS, d.s.MeanMS, d.s.MaxMS, plural(int(d.s.Samples), "sample")))
		}
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, "; ")
}

func trafficText(t trafficR) string {
	s := fmt.Sprintf("%s in %d packets (%d with data", rules.Bytes(t.Bytes), t.Packets, t.DataPackets)
	if t.RetransPackets > 0 {
		s += fmt.Sprintf(", %d retransmitted", t.RetransPackets)
	}
	if t.Duplicates > 0 {
		s += fmt.Sprintf(", %d duplicate copies ignored", t.Duplicates)
	}
	if t.IgnoredRSTs > 0 {
		s += fmt.Sprintf(", %d resets outside the peer's window ignored", t.IgnoredRSTs)
	}
	s += ")"
	if t.ThroughputBPS != nil {
		s += ", " + rules.Rate(*t.ThroughputBPS)
	}
	if t.SingleFlight {
		s += ", one flight (sent within two round trips: no sustained rate)"
	}
	if t.CeilingBPS != nil {
		s += ", RWIN/RTT ceiling " + rules.Rate(*t.CeilingBPS)
	}
	if t.LossCeilingBPS != nil {
		s += ", loss ceiling " + rules.Rate(*t.LossCeilingBPS)
	}
	if t.AtWindowPct != nil && *t.AtWindowPct > 0 {
		s += fmt.Sprintf(", %.0f%% of data segments at the window", *t.AtWindowPct)
	}
	if t.MaxInFlight > 0 {
		s += ", max in flight " + rules.Bytes(uint64(t.MaxInFlight))
	}
	return s
}

// plural renders a count with its noun: "1 flow", "3 flows".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// maxUnansweredLines bounds the server endpoints the text summary names;
// JSON lists them all.
const maxUnansweredLines = 3

// writeUnanswered names the server endpoints that left SYNs unanswered,
// those most clients tried first: from how many clients, how many tries,
// over how long. Many clients failing on one endpoint point at the server
// or a filter in front of it, one client at its own path.
func writeUnanswered(w io.Writer, p palette, u *analyze.Unanswered) {
	for i, s := range u.Servers {
		if i == maxUnansweredLines {
			fmt.Fprintf(w, "  %s\n", p.dim.Sprintf("… and %s more (JSON lists them all)", plural(len(u.Servers)-i, "endpoint")))
			break
		}
		clients := plural(s.Clients, "client")
		if s.ClientsCapped {
			clients = "at least " + clients
		}
		line := fmt.Sprintf("SYNs nobody answered: %s from %s, %s in %s", s.Server, clients,
			plural(int(s.SYNs), "SYN"), plural(int(s.Attempts), "attempt"))
		if s.Last != 0 {
			line += " over " + durationString(s.Last-s.First)
		}
		fmt.Fprintf(w, "  %s\n", p.warn.Sprint(line))
	}
	if u.OtherAttempts > 0 {
		fmt.Fprintf(w, "  %s\n", p.dim.Sprintf("%d more unanswered attempts on endpoints past the table's bound (%d SYNs)",
			u.OtherAttempts, u.OtherSYNs))
	}
}
