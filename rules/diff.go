package rules

import (
	"fmt"
	"slices"
	"strings"

	"rwin/analyze"
	"rwin/capture"
)

// The rules of `rwin diff` judge a flow captured at two points. What a
// single capture can only suspect — an option stripped somewhere, a window
// enforced unscaled — the two copies of the same segments prove: the
// option left one capture point and did not reach the other. These rules
// are in the catalog (IDs are reported and named by policies alike), but
// they judge a flow pair, never one flow: their Rule has no flow check.

// DiffEvidence is one segment as captured at both points.
type DiffEvidence struct {
	analyze.PacketPair
	What string
}

// DiffFinding is a finding of `rwin diff`: its evidence is packet pairs,
// each segment with its packet number in capture A and in B (Evidence of
// the embedded Finding stays empty).
type DiffFinding struct {
	Finding
	Pairs []DiffEvidence
}

// diffCheck judges one flow pair.
type diffCheck func(v *pairView, r *Rule) []DiffFinding

// diffRules are the pair rules of `rwin diff`, in the order findings of
// equal severity are reported.
var diffRules = []struct {
	rule  *Rule
	check diffCheck
}{
	{&Rule{
		ID: "path-answers-handshake", Name: "Handshake answered by the path", Severity: Error,
		Doc: "Proves what syn-proxy suspects. The SYN-ACK (or SYN) that reached one end is not the one the other end " +
			"sent: it arrived with a higher TTL than it left with, or across another number of hops than the rest of " +
			"its direction, so a device made it — a SYN proxy answering in the server's name. Error when its options " +
			"differ from the real one's in window scale, so that the two ends apply different shifts (F5 BIG-IP " +
			"hardware SYN cookies once dropped WS while the server negotiated it); warn otherwise.",
	}, pathAnswersHandshake},
	{&Rule{
		ID: "path-strips-option", Name: "Option removed on the path", Severity: Error,
		Doc: "Proves what wscale-stripped, sack-stripped and timestamps-stripped suspect. A SYN or SYN-ACK left one " +
			"capture point with an option and reached the other without it; the layouts say whether the bytes became " +
			"NOPs (iptables TCPOPTSTRIP) or the header was repacked. Error for window scale (the windows then cap at " +
			"64 KiB, or the two ends disagree on the shift), warn for SACK-permitted, timestamps and MSS, info for " +
			"other kinds.",
	}, pathStripsOption},
	{&Rule{
		ID: "path-rewrites-wscale", Name: "Window scale shift rewritten on the path", Severity: Error,
		Doc: "Proves what wscale-zeroed suspects. The window scale option reached the other end with another shift " +
			"than it was sent with (typically 0): the sender scales its windows by its own shift, the receiver reads " +
			"them by the rewritten one, and every window it computes is off by that factor.",
	}, pathRewritesWScale},
	{&Rule{
		ID: "path-enforces-unscaled-window", Name: "Unscaled window enforced on the path", Severity: Error,
		Doc: "Proves what unscaled-window-enforced suspects. Data segments that ended beyond the receiver's last " +
			"acknowledgment plus its window field taken unscaled left the sender's capture point and never reached the " +
			"receiver's, while the segments within that edge arrived: a stateful firewall, NAT or IPS tracks the flow " +
			"as if window scaling were off (the Vista-era RDP/SMB hang). Proven when a segment at least as large arrived " +
			"within the edge, so size (an MTU black hole) cannot explain the loss; high otherwise. Segments that ended " +
			"between the edge the sender's capture had seen and the one the receiver's had (its ACKs still in flight " +
			"moved it) count neither way: where a middlebox between the two put the edge is unknown.",
	}, pathEnforcesUnscaledWindow},
	{&Rule{
		ID: "path-rewrites-window", Name: "Window field rewritten on the path", Severity: Warn,
		Doc: "Segments reached the other capture point with another window field than they left with. Proxies and " +
			"normalizing firewalls rewrite windows; when the device does not also rewrite the window scale option, " +
			"the receiver computes a window the sender never offered.",
	}, pathRewritesWindow},
	{&Rule{
		ID: "path-drops-segments", Name: "Segments lost between the capture points", Severity: Warn,
		Doc: "Data segments left one capture point and never reached the other, while that capture was recording, " +
			"for no reason the unscaled-window check explains: loss on the path between the two points (congestion, " +
			"a policer, a filter). Counts and the first such segment are reported.",
	}, pathDropsSegments},
	{&Rule{
		ID: "path-clamps-mss", Name: "MSS rewritten on the path", Severity: Warn,
		Doc: "The MSS option reached the other end with another value. Lowering it is MSS clamping, as VPN, PPPoE and " +
			"tunnel gateways do for their smaller MTU (info); raising it invites segments the path cannot carry (warn).",
	}, pathClampsMSS},
	{&Rule{
		ID: "path-adds-option", Name: "Option added on the path", Severity: Warn,
		Doc: "A SYN or SYN-ACK reached the other end with an option its sender did not put there. Warn for window " +
			"scale, which the sender never agreed to apply; info for other kinds.",
	}, pathAddsOption},
	{&Rule{
		ID: "path-rewrites-timestamps", Name: "Timestamps rewritten on the path", Severity: Info,
		Doc: "TSvals (RFC 7323 §3) changed between the capture points: a proxy or normalizer runs its own timestamp " +
			"clock and translates the echoes. Harmless while it translates consistently; it hides the real sender's " +
			"clock from RTT measurement at the far end.",
	}, pathRewritesTimestamps},
	{&Rule{
		ID: "path-rewrites-seq", Name: "Sequence numbers rewritten on the path", Severity: Info,
		Doc: "One direction's sequence numbers differ by a constant between the capture points: a firewall randomizes " +
			"initial sequence numbers (or a proxy splices two connections) and translates acknowledgments. Harmless " +
			"when SACK blocks are translated too.",
	}, pathRewritesSeq},
	{&Rule{
		ID: "path-translates-addresses", Name: "Addresses or ports rewritten on the path", Severity: Info,
		Doc: "The two captures show the connection with other addresses or ports: NAT between the capture points. " +
			"Reported so the pairing is visible; NAT itself does not touch windows.",
	}, pathTranslatesAddresses},
}

// pairRuleList returns the pair rules, for the catalog.
func pairRuleList() []*Rule {
	out := make([]*Rule, len(diffRules))
	for i, d := range diffRules {
		out[i] = d.rule
	}
	return out
}

// pairView is a flow pair with what every diff rule needs around it.
type pairView struct {
	p    *analyze.FlowPair
	a, b *analyze.Flow
	conf Confidence
	why  string
}

// EvaluateDiff judges one flow pair of a diff; a and b are its flows in
// captures A and B. Findings are most severe first. A pair of high
// confidence gives proven findings; a medium one findings of medium
// confidence; a low one none, since the flows may not be one connection.
func EvaluateDiff(p *analyze.FlowPair, a, b *analyze.Flow) []DiffFinding {
	v := &pairView{p: p, a: a, b: b}
	var sig []string
	for _, s := range p.Signals {
		sig = append(sig, fmt.Sprintf("%s %d", s.Signal, s.Count))
	}
	switch p.Confidence {
	case analyze.PairHigh:
		v.conf = Proven
		v.why = "captured at both ends; the two flows are one connection beyond doubt (" + strings.Join(sig, ", ") + ")"
	case analyze.PairMedium:
		v.conf = Medium
		v.why = fmt.Sprintf("captured at both ends, but the two flows are only likely one connection (score %.2f: %s)",
			p.Score, strings.Join(sig, ", "))
	default:
		return nil
	}
	var out []DiffFinding
	for _, d := range diffRules {
		out = append(out, d.check(v, d.rule)...)
	}
	slices.SortStableFunc(out, func(x, y DiffFinding) int { return int(y.Severity) - int(x.Severity) })
	return out
}

func (v *pairView) finding(r *Rule, sev Severity, dir analyze.Direction, summary, advice string, ev ...DiffEvidence) DiffFinding {
	return DiffFinding{Finding: r.finding(sev, v.conf, dir, v.why, summary, advice), Pairs: ev}
}

// captureName names capture i in messages.
func captureName(i analyze.Capture) string {
	if i == analyze.CaptureB {
		return "B"
	}
	return "A"
}

// senderName names the end that sends direction d.
func senderName(d analyze.Direction) string {
	if d == analyze.ClientToServer {
		return "client"
	}
	return "server"
}

// handshakeRef is a handshake segment of a pair with its sender and
// direction.
type handshakeRef struct {
	hs     *analyze.HandshakeDiff
	name   string
	sender string
	d      analyze.Direction
}

// handshakes lists the pair's SYN and SYN-ACK.
func (v *pairView) handshakes() [2]handshakeRef {
	return [2]handshakeRef{
		{&v.p.SYN, "SYN", "client", analyze.ClientToServer},
		{&v.p.SYNACK, "SYN-ACK", "server", analyze.ServerToClient},
	}
}

// forwardedOptions calls fn for every option that differs between the
// copies of a handshake segment the path forwarded (one it made itself is
// path-answers-handshake's).
func (v *pairView) forwardedOptions(fn func(h handshakeRef, o analyze.OptionDiff)) {
	for _, h := range v.handshakes() {
		if !h.hs.Compared || h.hs.Originated {
			continue
		}
		for _, o := range h.hs.Options {
			fn(h, o)
		}
	}
}

// copies describes a handshake pair as evidence.
func copies(hs *analyze.HandshakeDiff, name string) DiffEvidence {
	return DiffEvidence{PacketPair: hs.Pair, What: fmt.Sprintf("%s as sent (%s: %s, ttl %d) and as received (%s: %s, ttl %d)",
		name, captureName(hs.SentIn), layoutText(hs.LayoutSent), hs.TTLSent,
		captureName(hs.SentIn.Other()), layoutText(hs.LayoutReceived), hs.TTLReceived)}
}

func layoutText(l string) string {
	if l == "" {
		return "no options"
	}
	return l
}

// optionName names an option kind with its value where it has one.
func optionName(kind uint8, value uint32, withValue bool) string {
	switch kind {
	case capture.OptKindWScale:
		if withValue {
			return fmt.Sprintf("window scale (shift %d)", value)
		}
		return "window scale"
	case capture.OptKindMSS:
		if withValue {
			return fmt.Sprintf("MSS %d", value)
		}
		return "MSS"
	case capture.OptKindSACKPerm:
		return "SACK-permitted"
	case capture.OptKindTimestamp:
		return "timestamps"
	}
	return "option " + capture.OptKindName(kind)
}

// scalingConsequence says how the two ends now disagree about the shift
// of each one's windows: the shift an end applies to its own windows (as
// its own capture shows the handshake) against the one its peer applies
// (as the peer's capture shows it). Empty when they agree or either is
// unknown.
func (v *pairView) scalingConsequence() string {
	var parts []string
	for _, d := range analyze.Directions {
		own, peer := v.p.Near(d), v.p.Near(d.Reverse())
		if own == analyze.CaptureUnknown {
			return ""
		}
		mine := v.p.Sender(d, own, v.a, v.b).Shift
		theirs := v.p.Sender(d, peer, v.a, v.b).Shift
		if mine.Basis != analyze.BasisNegotiated || theirs.Basis != analyze.BasisNegotiated || mine.Value == theirs.Value {
			continue
		}
		off := "too small"
		if theirs.Value > mine.Value {
			off = "too large"
		}
		parts = append(parts, fmt.Sprintf("the %s scales its windows by shift %d, the %s reads them with shift %d (%d times %s)",
			senderName(d), mine.Value, senderName(d.Reverse()), theirs.Value, 1<<absShiftDiff(mine.Value, theirs.Value), off))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; now " + strings.Join(parts, ", and ")
}

// unscaledBoth reports that both ends, each as its own capture shows the
// handshake, settled on no scaling.
func (v *pairView) unscaledBoth() bool {
	for _, d := range analyze.Directions {
		own := v.p.Near(d)
		if own == analyze.CaptureUnknown {
			return false
		}
		if sh := v.p.Sender(d, own, v.a, v.b).Shift; sh.Basis != analyze.BasisNegotiated || sh.Value != 0 {
			return false
		}
	}
	return true
}

func absShiftDiff(x, y capture.Shift) int {
	if x > y {
		return int(x - y)
	}
	return int(y - x)
}

func pathAnswersHandshake(v *pairView, r *Rule) []DiffFinding {
	var out []DiffFinding
	for _, h := range v.handshakes() {
		hs := h.hs
		if !hs.Compared || !hs.Originated {
			continue
		}
		var how []string
		if hs.TTLReceived > hs.TTLSent {
			how = append(how, fmt.Sprintf("it arrived with TTL %d but left with %d", hs.TTLReceived, hs.TTLSent))
		} else {
			how = append(how, fmt.Sprintf("it crossed %d hops where the rest of the %s's segments cross %d",
				int(hs.TTLSent)-int(hs.TTLReceived), h.sender, v.p.Dirs[h.d].Hops))
		}
		if hs.ISNOffset != 0 {
			how = append(how, "its ISN differs")
		}
		sev := Warn
		for _, o := range hs.Options {
			switch {
			case o.Kind == capture.OptKindTimestamp && o.Change == analyze.OptionValue:
				how = append(how, "its timestamps are another clock's")
			case o.Kind == capture.OptKindWScale:
				sev = Error
				how = append(how, fmt.Sprintf("window scale %s", o.Change))
			default:
				how = append(how, fmt.Sprintf("%s %s", optionName(o.Kind, 0, false), o.Change))
			}
		}
		out = append(out, v.finding(r, sev, analyze.BothDirections,
			fmt.Sprintf("the %s the %s received is not the one the %s sent — %s: a device on the path (a SYN proxy) answered in the %s's name%s",
				h.name, senderName(1-h.d), h.sender, strings.Join(how, ", "), h.sender, v.scalingConsequence()),
			"Find the SYN proxy or SYN-cookie protection between the capture points (load balancer, firewall DDoS profile) "+
				"and make it pass window scale through, or turn it off for this service.",
			copies(hs, h.name)))
	}
	return out
}

func pathStripsOption(v *pairView, r *Rule) []DiffFinding {
	var out []DiffFinding
	for _, h := range v.handshakes() {
		hs := h.hs
		if !hs.Compared || hs.Originated {
			continue
		}
		var names []string
		sev, nops := Info, true
		for _, o := range hs.Options {
			if o.Change != analyze.OptionRemoved {
				continue
			}
			names = append(names, optionName(o.Kind, o.Sent, true))
			nops = nops && o.NOPs
			switch o.Kind {
			case capture.OptKindWScale:
				sev = Error
			case capture.OptKindSACKPerm, capture.OptKindTimestamp, capture.OptKindMSS:
				sev = max(sev, Warn)
			}
		}
		if len(names) == 0 {
			continue
		}
		how := "removed and the header repacked"
		if nops {
			how = "overwritten with NOPs, as iptables TCPOPTSTRIP does"
		}
		then := v.scalingConsequence()
		if then == "" && sev == Error && v.unscaledBoth() {
			then = "; now neither end scales, and no window can exceed 64 KiB"
		}
		out = append(out, v.finding(r, sev, analyze.BothDirections,
			fmt.Sprintf("the path removed %s from the %s's %s (%s): sent %s, received %s%s",
				strings.Join(names, " and "), h.sender, h.name, how, layoutText(hs.LayoutSent), layoutText(hs.LayoutReceived), then),
			"Find the device between the capture points that edits TCP options (iptables TCPOPTSTRIP, a firewall's TCP "+
				"normalization, an IPS) and make it leave them alone; the capture that still has the option is on the "+
				"sender's side of it.",
			copies(hs, h.name)))
	}
	return out
}

func pathRewritesWScale(v *pairView, r *Rule) []DiffFinding {
	var out []DiffFinding
	v.forwardedOptions(func(h handshakeRef, o analyze.OptionDiff) {
		if o.Kind != capture.OptKindWScale || o.Change != analyze.OptionValue {
			return
		}
		out = append(out, v.finding(r, Error, analyze.BothDirections,
			fmt.Sprintf("the path rewrote the window scale shift in the %s's %s from %d to %d%s",
				h.sender, h.name, o.Sent, o.Received, v.scalingConsequence()),
			"Find the device between the capture points that rewrites the window scale option and stop it; until "+
				"then one end reads the other's windows wrongly.",
			copies(h.hs, h.name)))
	})
	return out
}

func pathClampsMSS(v *pairView, r *Rule) []DiffFinding {
	var out []DiffFinding
	v.forwardedOptions(func(h handshakeRef, o analyze.OptionDiff) {
		if o.Kind != capture.OptKindMSS || o.Change != analyze.OptionValue {
			return
		}
		sev, what, advice := Info, "clamped", "Expected behind a VPN, PPPoE or tunnel gateway whose MTU is smaller; check that the clamp matches the path MTU."
		if o.Received > o.Sent {
			sev, what, advice = Warn, "raised", "Find the device that raises the MSS: the peer will send segments larger than the sender can take."
		}
		dir := h.d.Reverse() // the SYN's MSS limits what the server sends
		out = append(out, v.finding(r, sev, dir,
			fmt.Sprintf("the path %s the MSS in the %s's %s from %d to %d", what, h.sender, h.name, o.Sent, o.Received),
			advice, copies(h.hs, h.name)))
	})
	return out
}

func pathAddsOption(v *pairView, r *Rule) []DiffFinding {
	var out []DiffFinding
	v.forwardedOptions(func(h handshakeRef, o analyze.OptionDiff) {
		if o.Change != analyze.OptionAdded {
			return
		}
		sev := Info
		if o.Kind == capture.OptKindWScale {
			sev = Warn
		}
		out = append(out, v.finding(r, sev, analyze.BothDirections,
			fmt.Sprintf("the path added %s to the %s's %s%s", optionName(o.Kind, o.Received, true), h.sender, h.name,
				v.scalingConsequence()),
			"Find the device between the capture points that inserts options; its peer now acts on an option the "+
				"sender never chose.",
			copies(h.hs, h.name)))
	})
	return out
}

func pathEnforcesUnscaledWindow(v *pairView, r *Rule) []DiffFinding {
	var out []DiffFinding
	for _, d := range analyze.Directions {
		dd := &v.p.Dirs[d]
		u := &dd.Unscaled
		up := dd.Upstream
		if !enforcedUnscaled(dd) {
			continue
		}
		// Only a receiver that scales its windows has an unscaled edge
		// below its real one; its own capture shows its shift.
		recvSide := analyze.CaptureA
		if up == analyze.CaptureA {
			recvSide = analyze.CaptureB
		}
		shift := v.p.Sender(d.Reverse(), recvSide, v.a, v.b).Shift
		if shift.Basis != analyze.BasisNegotiated || shift.Value == 0 {
			continue
		}
		conf, why := v.conf, v.why
		if u.MaxWithinDelivered < u.MinBeyondLost {
			conf = min(conf, High)
			why += fmt.Sprintf("; no segment of %d bytes or more arrived within the edge, so an MTU black hole would look the same", u.MinBeyondLost)
		}
		receiver := senderName(d.Reverse())
		within := "no data was sent within it"
		if u.WithinSent > 0 {
			within = fmt.Sprintf("all %d within it arrived", u.WithinSent)
		}
		if u.BetweenLost > 0 {
			within += fmt.Sprintf(" (%d of %d that ended where the %s's ACKs in flight were moving the edge vanished too)",
				u.BetweenLost, u.BetweenSent, receiver)
		}
		f := v.finding(r, Error, d,
			fmt.Sprintf("%d of %d data segments the %s sent beyond the %s's unscaled window (its ack + window field %d, "+
				"where shift %d makes the real window %s) vanished between the captures, and %s: "+
				"a middlebox enforces the window without the shift",
				u.BeyondLost, u.BeyondSent, senderName(d), receiver, u.Window, shift.Value,
				Bytes(uint64(shift.Value.Scale(u.Window))), within),
			"Find the stateful firewall, NAT or IPS between the capture points and make it honour window scaling (it "+
				"missed or ignored the handshake's option: check for asymmetric routing or a flow-table timeout), or "+
				"disable scaling on the receiver until it is fixed.",
			DiffEvidence{PacketPair: u.FirstBeyondLost, What: fmt.Sprintf("%s: a data segment that never arrived, ending %d bytes past the "+
				"unscaled edge; %s: the %s's ACK with window field %d that set the edge",
				captureName(up), u.Excess, captureName(up.Other()), receiver, u.Window)})
		f.Why = why
		f.Confidence = conf
		out = append(out, f)
	}
	return out
}

// enforcedUnscaled reports the unscaled-window pattern on a direction:
// at least two segments beyond the unscaled edge vanished, nearly none
// beyond it arrived, and nothing within it was lost.
func enforcedUnscaled(dd *analyze.DirDiff) bool {
	u := &dd.Unscaled
	return dd.Upstream != analyze.CaptureUnknown && u.BeyondLost >= 2 && u.BeyondLost*10 >= u.BeyondSent*9 && u.WithinLost == 0
}

func pathDropsSegments(v *pairView, r *Rule) []DiffFinding {
	var out []DiffFinding
	for _, d := range analyze.Directions {
		dd := &v.p.Dirs[d]
		up := dd.Upstream
		if up == analyze.CaptureUnknown || dd.OnlyData[up] == 0 {
			continue
		}
		lost := dd.OnlyData[up]
		if enforcedUnscaled(dd) {
			// Where the middlebox put the edge the segments between
			// the two captures' edges met is unknown; with the pattern
			// proven on the rest, it explains them as well.
			lost -= min(lost, dd.Unscaled.BeyondLost+dd.Unscaled.BetweenLost)
		}
		if lost == 0 {
			continue
		}
		ev := analyze.PacketPair{}
		if up == analyze.CaptureA {
			ev.A = dd.FirstOnly[up]
		} else {
			ev.B = dd.FirstOnly[up]
		}
		out = append(out, v.finding(r, Warn, d,
			fmt.Sprintf("%d data segments (%s in all with any other unmatched data) left the %s and never reached the %s's capture point",
				lost, Bytes(dd.OnlyBytes[up]), senderName(d), senderName(d.Reverse())),
			"Look for loss between the capture points: interface errors and drops, a policer or shaper, a filter. "+
				"Retransmissions recover it at the cost of throughput.",
			DiffEvidence{PacketPair: ev, What: fmt.Sprintf("first segment seen only in %s", captureName(up))}))
	}
	return out
}

func pathRewritesWindow(v *pairView, r *Rule) []DiffFinding {
	var out []DiffFinding
	for _, d := range analyze.Directions {
		dd := &v.p.Dirs[d]
		if dd.WindowRewrites == 0 {
			continue
		}
		out = append(out, v.finding(r, Warn, d.Reverse(),
			fmt.Sprintf("the window fields of %d of the %s's segments changed on the path (first: %d in A, %d in B)",
				dd.WindowRewrites, senderName(d), dd.WindowA, dd.WindowB),
			"Find the proxy or normalizer that rewrites windows, and check that it rewrites the window scale option "+
				"consistently, or the receiver computes windows the sender never offered.",
			DiffEvidence{PacketPair: dd.FirstWindowRewrite, What: "the same segment with two window fields"}))
	}
	return out
}

func pathRewritesTimestamps(v *pairView, r *Rule) []DiffFinding {
	var out []DiffFinding
	for _, d := range analyze.Directions {
		dd := &v.p.Dirs[d]
		if dd.TSRewrites == 0 {
			continue
		}
		out = append(out, v.finding(r, Info, d,
			fmt.Sprintf("the TSvals of %d of the %s's segments changed on the path: a device runs its own timestamp clock",
				dd.TSRewrites, senderName(d)),
			"Usually a proxy or SYN-cookie device; RTTs measured at the far end are the device's, not the sender's.",
			DiffEvidence{PacketPair: dd.FirstTSRewrite, What: "the same segment with two TSvals"}))
	}
	return out
}

func pathRewritesSeq(v *pairView, r *Rule) []DiffFinding {
	var out []DiffFinding
	for _, h := range v.handshakes() {
		d := h.d
		dd := &v.p.Dirs[d]
		if !dd.Compared || dd.SeqOffset == 0 {
			continue
		}
		var ev []DiffEvidence
		if h.hs.Compared {
			ev = append(ev, copies(h.hs, h.name))
		}
		out = append(out, v.finding(r, Info, d,
			fmt.Sprintf("the %s's sequence numbers are shifted by %d between the captures (B − A): the path randomizes "+
				"ISNs or splices connections", senderName(d), int32(dd.SeqOffset)),
			"Harmless if the device also translates SACK blocks; if SACK recovery fails on this path, suspect it.",
			ev...))
	}
	return out
}

func pathTranslatesAddresses(v *pairView, r *Rule) []DiffFinding {
	if !v.p.NAT {
		return nil
	}
	bc, bs := v.b.Client.Addr, v.b.Server.Addr
	if v.p.Swapped {
		bc, bs = bs, bc
	}
	var ev []DiffEvidence
	if v.p.SYN.Compared {
		ev = append(ev, copies(&v.p.SYN, "SYN"))
	}
	return []DiffFinding{v.finding(r, Info, analyze.BothDirections,
		fmt.Sprintf("the path translates addresses or ports: A shows %s → %s, B shows %s → %s",
			v.a.Client.Addr, v.a.Server.Addr, bc, bs),
		"None needed for windows; remember the translation when filtering captures at either end.", ev...)}
}
