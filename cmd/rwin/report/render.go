package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/fatih/color"

	"rwin/analyze"
	"rwin/capture"
	"rwin/rules"
)

// Palette holds the colors of text output, all disabled when color is off.
type Palette struct {
	Head, Dim, Bad, Warn, Info, Good *color.Color
	On                               bool // colors are written
}

// NewPalette returns the palette, colored when on.
func NewPalette(on bool) Palette {
	p := Palette{
		Head: color.New(color.Bold), Dim: color.New(color.Faint),
		Bad: color.New(color.FgRed, color.Bold), Warn: color.New(color.FgYellow),
		Info: color.New(color.FgCyan), Good: color.New(color.FgGreen), On: on,
	}
	for _, c := range []*color.Color{p.Head, p.Dim, p.Bad, p.Warn, p.Info, p.Good} {
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return p
}

// Severity is the color of a severity.
func (p Palette) Severity(s rules.Severity) *color.Color {
	switch s {
	case rules.Error:
		return p.Bad
	case rules.Warn:
		return p.Warn
	}
	return p.Info
}

// appendRow appends the table row of a flow, its cells separated by tabs.
// Windows are medians of what each side advertised, scaled: "≥" marks an
// inferred lower bound, "≈" a value rounded or from the histogram's
// buckets, "raw" an unknown scale.
func appendRow(b []byte, p Palette, r *Flow) []byte {
	f := r.Facts
	b = append(b, "  "...)
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
	b = appendRWIN(append(b, '\t'), &f.Client, &r.Client)
	b = appendRWIN(append(b, '\t'), &f.Server, &r.Server)
	b = append(b, '\t')
	if r.RTT > 0 {
		b = rules.AppendDuration(b, r.RTT)
	} else {
		b = append(b, '-')
	}
	for _, s := range []*Side{&r.Client, &r.Server} {
		b = append(b, '\t')
		switch {
		case s.GoodputKnown:
			b = appendRate(b, s.Goodput)
		case s.SingleFlight:
			b = append(b, "1 flight"...)
		default:
			b = append(b, '-')
		}
	}
	return appendFindings(append(b, '\t'), p, r.Findings)
}

// Row is the table row of a flow, its cells separated by tabs.
func Row(p Palette, r *Flow) string {
	var buf [256]byte
	return string(appendRow(buf[:0], p, r))
}

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
func appendRWIN(b []byte, e *analyze.Endpoint, s *Side) []byte {
	w := &e.Window
	switch {
	case w.Samples == 0:
		return append(b, '-')
	case !s.WindowKnown:
		return strconv.AppendUint(append(b, "raw "...), uint64(w.Max), 10)
	case s.Basis == analyze.BasisInferred:
		b = append(b, "≥"...)
	}
	return appendSize(b, s.Window, !w.Estimated)
}

// appendFindings appends the most severe finding and how many more.
func appendFindings(b []byte, p Palette, found []rules.Finding) []byte {
	if len(found) == 0 {
		if p.On {
			return append(b, p.Good.Sprint("-")...)
		}
		return append(b, '-')
	}
	top := found[0]
	if p.On {
		b = append(b, p.Severity(top.Severity).Sprintf("%s %s", top.Severity, top.ID)...)
	} else {
		b = append(append(append(b, top.Severity.String()...), ' '), top.ID...)
	}
	if len(found) > 1 {
		b = strconv.AppendInt(append(b, " +"...), int64(len(found)-1), 10)
	}
	return b
}

// writeDetail prints everything known about one flow (-v).
func writeDetail(w io.Writer, p Palette, fl *Flow) {
	rec := fl.Record()
	r, f := &rec, fl.Facts
	svc := ""
	if r.Service != nil {
		svc = " (" + *r.Service + ")"
	}
	fmt.Fprintf(w, "%s %s → %s%s\n", p.Head.Sprintf("flow %d", r.ID), r.Client, r.Server, svc)
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
		fmt.Fprintf(w, "  %-11s %s advertises %s\n", Label(side.name == "client", "rwin"), side.name, rwinText(r.RWIN[side.name], side.e))
	}
	fmt.Fprintf(w, "  %-11s %s\n", "rtt", rttText(r))
	for _, side := range []struct {
		name, dir string
	}{{"client", "client→server"}, {"server", "server→client"}} {
		fmt.Fprintf(w, "  %-11s %s %s\n", Label(side.name == "client", "traffic"), side.dir, trafficText(r.Traffic[side.name]))
	}
	if len(fl.Findings) == 0 {
		fmt.Fprintf(w, "  %-11s %s\n", "findings", p.Good.Sprint("none"))
		return
	}
	fmt.Fprintf(w, "  %s\n", "findings")
	for _, x := range fl.Findings {
		evidence := make([]string, len(x.Evidence))
		for i, e := range x.Evidence {
			evidence[i] = fmt.Sprintf("packet %d: %s", e.Packet, e.What)
		}
		WriteFinding(w, p, &x, evidence)
	}
}

// WriteFinding prints one finding of a detail block: its headline, why,
// each line of evidence and the advice.
func WriteFinding(w io.Writer, p Palette, x *rules.Finding, evidence []string) {
	fmt.Fprintf(w, "    %s %s (%s confidence, %s): %s\n", p.Severity(x.Severity).Sprintf("%-5s", strings.ToUpper(x.Severity.String())),
		x.ID, x.Confidence, x.Direction, x.Summary)
	fmt.Fprintf(w, "          %s %s\n", p.Dim.Sprint("why:"), x.Why)
	for _, e := range evidence {
		fmt.Fprintf(w, "          %s %s\n", p.Dim.Sprint("evidence:"), e)
	}
	fmt.Fprintf(w, "          %s %s\n", p.Dim.Sprint("advice:"), x.Advice)
}

// Label shows a row title on the first of a pair of rows only.
func Label(first bool, s string) string {
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
		if o.Carries(has) {
			parts = append(parts, on)
		} else {
			parts = append(parts, off)
		}
	}
	if o.Carries(capture.HasMSS) {
		parts = append(parts, fmt.Sprintf("mss %d", o.MSS))
	} else {
		parts = append(parts, "mss -")
	}
	if o.Carries(capture.HasWScale) {
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

func rwinText(r RWINRecord, e *analyze.Endpoint) string {
	if r.Samples == 0 {
		return "no windows (no non-SYN segments)"
	}
	if r.Median == nil {
		return fmt.Sprintf("raw window fields %d–%d (last %d), scale unknown", *r.RawMin, *r.RawMax, *r.RawLast)
	}
	b := func(v *uint64) string { return size(*v) }
	s := fmt.Sprintf("min %s, median %s, max %s, last %s", b(r.Min), string(appendSize(nil, *r.Median, r.Exact)), b(r.Max), b(r.Last))
	if !r.Exact {
		s += " (median ±6%)"
	}
	switch r.Basis {
	case "inferred":
		s += fmt.Sprintf("; at least: shift ≥%d inferred from bytes in flight", *r.Shift)
	default:
		s += fmt.Sprintf("; shift %d allows up to %s", *r.Shift, size(*r.MaxAllowed))
	}
	if e.ZeroWindows > 0 {
		s += fmt.Sprintf("; %d zero windows", e.ZeroWindows)
	}
	return s
}

func rttText(r *FlowRecord) string {
	var parts []string
	if r.RTT.HandshakeMS != nil {
		parts = append(parts, fmt.Sprintf("handshake %.1f ms (client side %.1f ms, server side %.1f ms)",
			*r.RTT.HandshakeMS, *r.RTT.ClientSideMS, *r.RTT.ServerSideMS))
	}
	for _, d := range []struct {
		name string
		s    *RTTSampleStat
	}{{"data to server", r.RTT.ToServer}, {"data to client", r.RTT.ToClient}} {
		if d.s != nil {
			parts = append(parts, fmt.Sprintf("%s %.1f/%.1f/%.1f ms min/mean/max (%s)", d.name, d.s.MinMS, d.s.MeanMS, d.s.MaxMS, Plural(int(d.s.Samples), "sample")))
		}
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, "; ")
}

func trafficText(t TrafficRecord) string {
	s := fmt.Sprintf("%s in %d packets (%d with data", size(t.Bytes), t.Packets, t.DataPackets)
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
		s += ", " + rate(*t.ThroughputBPS)
	}
	if t.SingleFlight {
		s += ", one flight (sent within two round trips: no sustained rate)"
	}
	if t.CeilingBPS != nil {
		s += ", RWIN/RTT ceiling " + ceiling(*t.CeilingBPS)
	}
	if t.LossCeilingBPS != nil {
		s += ", loss ceiling " + ceiling(*t.LossCeilingBPS)
	}
	if t.AtWindowPct != nil && *t.AtWindowPct > 0 {
		s += fmt.Sprintf(", %.0f%% of data segments at the window", *t.AtWindowPct)
	}
	if t.MaxInFlight > 0 {
		s += ", max in flight " + size(uint64(t.MaxInFlight))
	}
	return s
}

// Plural renders a count with its noun: "1 flow", "3 flows".
func Plural(n int, noun string) string {
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
func writeUnanswered(w io.Writer, p Palette, u *analyze.Unanswered) {
	for i, s := range u.Servers {
		if i == maxUnansweredLines {
			fmt.Fprintf(w, "  %s\n", p.Dim.Sprintf("… and %s more (JSON lists them all)", Plural(len(u.Servers)-i, "endpoint")))
			break
		}
		clients := Plural(s.Clients, "client")
		if s.ClientsCapped {
			clients = "at least " + clients
		}
		line := fmt.Sprintf("SYNs nobody answered: %s from %s, %s in %s", s.Server, clients,
			Plural(int(s.SYNs), "SYN"), Plural(int(s.Attempts), "attempt"))
		if s.Last != 0 {
			line += " over " + DurationString(time.Duration(s.Last-s.First))
		}
		fmt.Fprintf(w, "  %s\n", p.Warn.Sprint(line))
	}
	if u.OtherAttempts > 0 {
		fmt.Fprintf(w, "  %s\n", p.Dim.Sprintf("%d more unanswered attempts on endpoints past the table's bound (%d SYNs)",
			u.OtherAttempts, u.OtherSYNs))
	}
}

// DurationString renders a flow or capture duration.
func DurationString(d time.Duration) string {
	return d.Round(time.Millisecond).String()
}

// RWINCell is the RWIN cell of an endpoint's record: "-" without windows,
// the largest raw window field when the scale is unknown, else the median
// effective window, "≥" marking an inferred lower bound.
func RWINCell(r RWINRecord) string {
	switch {
	case r.Samples == 0:
		return "-"
	case r.Median == nil:
		return "raw " + strconv.FormatUint(uint64(*r.RawMax), 10)
	case r.Basis == analyze.BasisInferred.String():
		return "≥" + string(appendSize(nil, *r.Median, r.Exact))
	}
	return string(appendSize(nil, *r.Median, r.Exact))
}
