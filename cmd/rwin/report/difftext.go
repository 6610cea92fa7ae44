package report

import (
	"fmt"
	"io"
	"strings"

	"rwin/analyze"
	"rwin/capture"
	"rwin/rules"
)

func writePairText(w io.Writer, p Palette, r *DiffPairRecord) {
	pr := r.p
	fmt.Fprintf(w, "%s A flow %d ⇄ B flow %d, %s confidence (score %.2f: %s)\n", p.Head.Sprintf("pair %d", r.Pair),
		r.A.ID, r.B.ID, pr.Confidence, pr.Score, diffSignals(pr))
	for i, ref := range []diffFlowRef{r.A, r.B} {
		where := ""
		switch pr.ClientSide {
		case analyze.CaptureUnknown:
		case analyze.Capture(i):
			where = " (client side)"
		default:
			where = " (server side)"
		}
		fmt.Fprintf(w, "  %-14s %s → %s, packets %d–%d%s\n", strings.ToUpper(captureKey(i)), ref.Client, ref.Server,
			ref.FirstPacket, ref.LastPacket, where)
	}
	if pr.Swapped {
		fmt.Fprintf(w, "  %-14s %s\n", "", p.Dim.Sprint("B took client and server the other way round (no handshake to tell); A's roles are used"))
	}
	var path []string
	for d, name := range []string{"client→server", "server→client"} {
		path = append(path, name+" "+pathText(&pr.Dirs[d]))
	}
	fmt.Fprintf(w, "  %-14s %s\n", "path", strings.Join(path, "; "))
	writeHSDiff(w, p, "SYN", &pr.SYN)
	writeHSDiff(w, p, "SYN-ACK", &pr.SYNACK)
	for d, name := range []string{"client→server", "server→client"} {
		fmt.Fprintf(w, "  %-14s %s\n", name, segmentsText(&pr.Dirs[d]))
	}
	for d, name := range []string{"client", "server"} {
		v := r.RWIN[name]
		fmt.Fprintf(w, "  %-14s %s's window: %s\n", Label(d == 0, "rwin"), name, rwinViewText(name, v, pr, analyze.Direction(d)))
	}
	if len(r.find) == 0 {
		fmt.Fprintf(w, "  %-14s %s\n", "findings", p.Good.Sprint("none"))
		return
	}
	fmt.Fprintf(w, "  %s\n", "findings")
	for _, x := range r.find {
		evidence := make([]string, len(x.Pairs))
		for i, e := range x.Pairs {
			evidence[i] = fmt.Sprintf("%s: %s", e.PacketPair, e.What)
		}
		WriteFinding(w, p, &x.Finding, evidence)
	}
}

// pathText says what lies between the capture points in one direction.
func pathText(d *analyze.DirDiff) string {
	var parts []string
	if d.HopsOK {
		h := Plural(d.Hops, "hop")
		if d.HopsVary {
			h += " (varies)"
		}
		parts = append(parts, h)
	}
	if d.DelayOK {
		parts = append(parts, rules.Duration(d.Delay))
	}
	if d.Upstream != analyze.CaptureUnknown {
		parts = append(parts, fmt.Sprintf("%s → %s", strings.ToUpper(captureKey(d.Upstream)), strings.ToUpper(captureKey(d.Upstream.Other()))))
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, ", ")
}

// writeHSDiff prints one handshake segment as sent and as received.
func writeHSDiff(w io.Writer, p Palette, name string, h *analyze.HandshakeDiff) {
	if !h.Compared {
		fmt.Fprintf(w, "  %-14s %s\n", name, p.Dim.Sprint("not in both captures"))
		return
	}
	sent, recv := h.Pair.A.Packet, h.Pair.B.Packet
	if h.SentIn == analyze.CaptureB {
		sent, recv = recv, sent
	}
	route := fmt.Sprintf("%s %d → %s %d", strings.ToUpper(captureKey(h.SentIn)), sent, strings.ToUpper(captureKey(h.SentIn.Other())), recv)
	var changes []string
	if h.Originated {
		changes = append(changes, p.Bad.Sprintf("made on the path (ttl %d sent, %d received)", h.TTLSent, h.TTLReceived))
	}
	for _, o := range h.Options {
		n := capture.OptKindName(o.Kind)
		switch o.Change {
		case analyze.OptionRemoved:
			s := n + " removed"
			if hasValue(o.Kind) {
				s = fmt.Sprintf("%s %d removed", n, o.Sent)
			}
			if o.NOPs {
				s += " (NOPs)"
			}
			changes = append(changes, s)
		case analyze.OptionAdded:
			changes = append(changes, n+" added")
		default:
			changes = append(changes, fmt.Sprintf("%s %d → %d", n, o.Sent, o.Received))
		}
	}
	if h.WindowSent != h.WindowReceived {
		changes = append(changes, fmt.Sprintf("window %d → %d", h.WindowSent, h.WindowReceived))
	}
	what := p.Good.Sprint("unchanged") + " (" + layoutText(h.LayoutSent) + ")"
	if len(changes) > 0 {
		what = fmt.Sprintf("%s → %s: %s", layoutText(h.LayoutSent), layoutText(h.LayoutReceived), strings.Join(changes, ", "))
	}
	fmt.Fprintf(w, "  %-14s %s: %s\n", name, route, what)
}

func layoutText(l string) string {
	if l == "" {
		return "no options"
	}
	return l
}

// segmentsText summarizes the segment-by-segment comparison of one
// direction.
func segmentsText(d *analyze.DirDiff) string {
	if !d.Compared {
		return "not compared segment by segment (no sequence offset between the captures)"
	}
	parts := []string{fmt.Sprintf("%d segments matched", d.Matched)}
	if d.Resegmented > 0 {
		parts = append(parts, fmt.Sprintf("%d pieces matched by sequence range (segmentation offload at a capture point)", d.Resegmented))
	}
	if d.SeqOffset != 0 {
		parts = append(parts, fmt.Sprintf("sequence offset %+d", int32(d.SeqOffset)))
	}
	only := func(i analyze.Capture) string {
		s := Plural(int(d.Only[i]), "segment")
		if d.OnlyData[i] > 0 {
			s += fmt.Sprintf(" (%d with data, %s)", d.OnlyData[i], rules.Bytes(d.OnlyBytes[i]))
		}
		return s
	}
	switch up := d.Upstream; {
	case up == analyze.CaptureUnknown:
		for _, i := range analyze.Captures {
			if d.Only[i] > 0 {
				parts = append(parts, fmt.Sprintf("%s only in %s", only(i), strings.ToUpper(captureKey(i))))
			}
		}
	default:
		if d.Only[up] > 0 {
			parts = append(parts, only(up)+" vanished on the path")
		}
		if d.Only[up.Other()] > 0 {
			parts = append(parts, only(up.Other())+" appeared on the path")
		}
	}
	if u := d.Unscaled; u.BeyondSent > 0 && u.BeyondLost > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d data segments beyond the unscaled window lost, %d of %d within it",
			u.BeyondLost, u.BeyondSent, u.WithinLost, u.WithinSent))
		if u.BetweenSent > 0 {
			parts = append(parts, fmt.Sprintf("%d of %d where the receiver's ACKs in flight moved the edge", u.BetweenLost, u.BetweenSent))
		}
	}
	for _, c := range []struct {
		n    uint64
		what string
	}{{d.WindowRewrites, "window fields rewritten"}, {d.TSRewrites, "TSvals rewritten"},
		{d.IPIDRewrites, "IP IDs rewritten"}, {d.OptionChanges, "with other options"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if d.Outside > 0 {
		parts = append(parts, fmt.Sprintf("%d unmatched outside the other capture's span", d.Outside))
	}
	if d.Overflow > 0 {
		parts = append(parts, fmt.Sprintf("%d given up past the matching window", d.Overflow))
	}
	return strings.Join(parts, "; ")
}

// rwinViewText puts what an endpoint granted beside what its peer
// believed: "client grants 64.0 KiB (shift 7), server believes 502 B
// (shift 0)".
func rwinViewText(name string, v rwinViewRecord, pr *analyze.FlowPair, d analyze.Direction) string {
	seen := func(r rwinSeenR) string {
		s := RWINCell(r.RWINRecord)
		switch {
		case r.Shift == nil:
			s += " (scale unknown)"
		case r.Basis == "inferred":
			s += fmt.Sprintf(" (shift ≥%d)", *r.Shift)
		default:
			s += fmt.Sprintf(" (shift %d)", *r.Shift)
		}
		return s + " in " + strings.ToUpper(r.Capture)
	}
	if !v.SidesKnown {
		return fmt.Sprintf("%s, %s (which capture is whose is unknown)", seen(v.Grants), seen(v.Believed))
	}
	peer := "server"
	if d == analyze.ServerToClient {
		peer = "client"
	}
	return fmt.Sprintf("%s grants %s, %s believes %s", name, seen(v.Grants), peer, seen(v.Believed))
}
