package report

import (
	"fmt"
	"strings"

	"rwin/analyze"
	"rwin/capture"
	"rwin/rules"
)

// DiffDocument is the --format json document of rwin diff (DiffOutput
// writes it as the diff finds its records); NDJSON writes its records one
// per line.
type DiffDocument struct {
	Schema   int                  `json:"schema"`
	Pairs    []DiffPairRecord     `json:"pairs"`
	Unpaired []diffUnpairedRecord `json:"unpaired"`
	Summary  diffSummaryRecord    `json:"summary"`
}

// DiffPairRecord is one connection seen in both captures and what the
// path between them did to it.
type DiffPairRecord struct {
	Type       string                    `json:"type"`
	Schema     int                       `json:"schema"`
	Pair       int                       `json:"pair"`
	A          diffFlowRef               `json:"a"`
	B          diffFlowRef               `json:"b"`
	Pairing    pairingRecord             `json:"pairing"`
	NAT        bool                      `json:"nat"`
	ClientSide *string                   `json:"client_side"`
	Directions map[string]diffDirRecord  `json:"directions"`
	Handshake  map[string]*HSDiffRecord  `json:"handshake"`
	RWIN       map[string]rwinViewRecord `json:"rwin"`
	Findings   []diffFindingRecord       `json:"findings"`

	p      *analyze.FlowPair
	fa, fb *analyze.Flow
	find   []rules.DiffFinding
}

// diffFlowRef names a flow in one capture.
type diffFlowRef struct {
	File        string `json:"file"`
	ID          uint64 `json:"id"`
	Client      string `json:"client"`
	Server      string `json:"server"`
	FirstPacket uint64 `json:"first_packet"`
	LastPacket  uint64 `json:"last_packet"`
	Handshake   string `json:"handshake"`
	Packets     uint64 `json:"packets"`
}

// pairingRecord says how sure the pairing is and why.
type pairingRecord struct {
	Score      float64        `json:"score"`
	Confidence string         `json:"confidence"`
	Signals    map[string]int `json:"signals"`
	Swapped    bool           `json:"roles_swapped"`
}

// diffDirRecord compares one direction's segments.
type diffDirRecord struct {
	Compared       bool              `json:"compared"`
	Upstream       *string           `json:"upstream"`
	SeqOffset      *int32            `json:"seq_offset"`
	DelayMS        *float64          `json:"delay_ms"`
	Hops           *int              `json:"hops"`
	HopsVary       bool              `json:"hops_vary"`
	Matched        uint64            `json:"matched"`
	Resegmented    uint64            `json:"resegmented"`
	Only           map[string]uint64 `json:"only"`
	OnlyData       map[string]uint64 `json:"only_data"`
	OnlyBytes      map[string]uint64 `json:"only_bytes"`
	Outside        uint64            `json:"outside"`
	Overflow       uint64            `json:"overflow"`
	WindowRewrites uint64            `json:"window_rewrites"`
	TSRewrites     uint64            `json:"ts_rewrites"`
	IPIDRewrites   uint64            `json:"ipid_rewrites"`
	OptionChanges  uint64            `json:"option_changes"`
	Unscaled       unscaledRecord    `json:"unscaled_window"`
}

type unscaledRecord struct {
	BeyondSent uint64 `json:"beyond_sent"`
	BeyondLost uint64 `json:"beyond_lost"`
	WithinSent uint64 `json:"within_sent"`
	WithinLost uint64 `json:"within_lost"`
	// BetweenSent and BetweenLost: data that ended between the edge each
	// capture saw (see analyze.UnscaledCheck).
	BetweenSent uint64 `json:"between_sent"`
	BetweenLost uint64 `json:"between_lost"`
}

// HSDiffRecord compares the two copies of a SYN or SYN-ACK.
type HSDiffRecord struct {
	SentIn         string             `json:"sent_in"`
	A              uint64             `json:"a"`
	B              uint64             `json:"b"`
	LayoutSent     string             `json:"layout_sent"`
	LayoutReceived string             `json:"layout_received"`
	WindowSent     uint16             `json:"window_sent"`
	WindowReceived uint16             `json:"window_received"`
	TTLSent        uint8              `json:"ttl_sent"`
	TTLReceived    uint8              `json:"ttl_received"`
	ISNOffset      int32              `json:"isn_offset"`
	Originated     bool               `json:"originated"`
	Options        []OptionDiffRecord `json:"options"`
}

type OptionDiffRecord struct {
	Option   string  `json:"option"`
	Change   string  `json:"change"`
	Sent     *uint32 `json:"sent"`
	Received *uint32 `json:"received"`
	NOPs     bool    `json:"nops"`
}

// rwinViewRecord is one endpoint's receive window as its own end granted
// it and as its peer believed it.
type rwinViewRecord struct {
	SidesKnown bool      `json:"sides_known"`
	Grants     rwinSeenR `json:"grants"`
	Believed   rwinSeenR `json:"believed"`
}

// rwinSeenR is an endpoint's advertised window as one capture shows it.
type rwinSeenR struct {
	Capture string `json:"capture"`
	RWINRecord
}

// diffFindingRecord is a finding of rwin diff: its evidence is packet pairs.
type diffFindingRecord = FindingRec[diffEvidenceRecord]

type diffEvidenceRecord struct {
	A     *uint64 `json:"a"`
	B     *uint64 `json:"b"`
	ATime *string `json:"a_time"`
	BTime *string `json:"b_time"`
	What  string  `json:"what"`
}

// diffUnpairedRecord is a flow seen in one capture only.
type diffUnpairedRecord struct {
	Type    string `json:"type"`
	Schema  int    `json:"schema"`
	Capture string `json:"capture"`
	diffFlowRef
}

// diffSummaryRecord closes a diff.
type diffSummaryRecord struct {
	Type          string         `json:"type"`
	Schema        int            `json:"schema"`
	Files         []FileSummary  `json:"files"`
	Pairs         int            `json:"pairs"`
	ByConfidence  map[string]int `json:"pairs_by_confidence"`
	OnlyA         int            `json:"only_a"`
	OnlyB         int            `json:"only_b"`
	ClockOffsetMS *float64       `json:"clock_offset_ms"`
	ClockPairs    int            `json:"clock_pairs"`
	Findings      map[string]int `json:"findings_by_severity"`
}

// captureKey is capture i's key in records, "a" or "b"; i is a Capture or
// an index over the two.
func captureKey[I int | analyze.Capture](i I) string {
	if analyze.Capture(i) == analyze.CaptureB {
		return "b"
	}
	return "a"
}

func captureKeyPtr(i analyze.Capture) *string {
	if i == analyze.CaptureUnknown {
		return nil
	}
	return ptr(captureKey(i))
}

func flowRef(file string, f *analyze.Flow) diffFlowRef {
	return diffFlowRef{File: file, ID: f.ID, Client: f.Client.Addr.String(), Server: f.Server.Addr.String(),
		FirstPacket: f.FirstPacket, LastPacket: f.LastPacket, Handshake: f.Handshake.String(),
		Packets: f.Client.Packets + f.Server.Packets}
}

func newDiffPairRecord(n int, files [2]string, p *analyze.FlowPair, fa, fb *analyze.Flow) DiffPairRecord {
	r := newDiffPairText(n, files, p, fa, fb)
	r.Pairing.Signals = map[string]int{}
	r.NAT, r.ClientSide = p.NAT, captureKeyPtr(p.ClientSide)
	r.Directions, r.Handshake = map[string]diffDirRecord{}, map[string]*HSDiffRecord{}
	r.Findings = make([]diffFindingRecord, 0, len(r.find))
	for _, s := range p.Signals {
		r.Pairing.Signals[s.Signal.String()] = s.Count
	}
	for d, name := range []string{"client-to-server", "server-to-client"} {
		r.Directions[name] = dirRecord(&p.Dirs[d])
	}
	r.Handshake["syn"] = hsRecord(&p.SYN)
	r.Handshake["synack"] = hsRecord(&p.SYNACK)
	for _, x := range r.find {
		fr := NewFindingRec(&x.Finding, make([]diffEvidenceRecord, 0, len(x.Pairs)))
		for _, e := range x.Pairs {
			er := diffEvidenceRecord{What: e.What}
			if e.A.Packet != 0 {
				er.A, er.ATime = ptr(e.A.Packet), ptr(TimeString(e.A.Time))
			}
			if e.B.Packet != 0 {
				er.B, er.BTime = ptr(e.B.Packet), ptr(TimeString(e.B.Time))
			}
			fr.Evidence = append(fr.Evidence, er)
		}
		r.Findings = append(r.Findings, fr)
	}
	return r
}

// newDiffPairText is the part of pair n's record that its text renders
// (writePairText): the flows, the windows as each end sees them, the
// findings. The text output leaves out the rest, its maps above all,
// which cost rwin diff a tenth of its CPU time.
func newDiffPairText(n int, files [2]string, p *analyze.FlowPair, fa, fb *analyze.Flow) DiffPairRecord {
	r := DiffPairRecord{
		Type: "pair", Schema: SchemaVersion, Pair: n, A: flowRef(files[0], fa), B: flowRef(files[1], fb),
		Pairing: pairingRecord{Score: p.Score, Confidence: p.Confidence.String(), Swapped: p.Swapped},
		RWIN:    map[string]rwinViewRecord{},
		p:       p, fa: fa, fb: fb, find: rules.EvaluateDiff(p, fa, fb),
	}
	for d, name := range []string{"client", "server"} {
		r.RWIN[name] = rwinView(p, analyze.Direction(d), fa, fb)
	}
	return r
}

func dirRecord(d *analyze.DirDiff) diffDirRecord {
	r := diffDirRecord{
		Compared: d.Compared, Upstream: captureKeyPtr(d.Upstream), HopsVary: d.HopsVary, Matched: d.Matched,
		Resegmented: d.Resegmented,
		Only:        map[string]uint64{"a": d.Only[0], "b": d.Only[1]},
		OnlyData:    map[string]uint64{"a": d.OnlyData[0], "b": d.OnlyData[1]},
		OnlyBytes:   map[string]uint64{"a": d.OnlyBytes[0], "b": d.OnlyBytes[1]},
		Outside:     d.Outside, Overflow: d.Overflow, WindowRewrites: d.WindowRewrites, TSRewrites: d.TSRewrites,
		IPIDRewrites: d.IPIDRewrites, OptionChanges: d.OptionChanges,
		Unscaled: unscaledRecord{BeyondSent: d.Unscaled.BeyondSent, BeyondLost: d.Unscaled.BeyondLost,
			WithinSent: d.Unscaled.WithinSent, WithinLost: d.Unscaled.WithinLost,
			BetweenSent: d.Unscaled.BetweenSent, BetweenLost: d.Unscaled.BetweenLost},
	}
	if d.Compared {
		r.SeqOffset = ptr(int32(d.SeqOffset))
	}
	if d.DelayOK {
		r.DelayMS = ptr(Millis(d.Delay))
	}
	if d.HopsOK {
		r.Hops = ptr(d.Hops)
	}
	return r
}

func hsRecord(h *analyze.HandshakeDiff) *HSDiffRecord {
	if !h.Compared {
		return nil
	}
	r := &HSDiffRecord{
		SentIn: captureKey(h.SentIn), A: h.Pair.A.Packet, B: h.Pair.B.Packet,
		LayoutSent: h.LayoutSent, LayoutReceived: h.LayoutReceived, WindowSent: h.WindowSent, WindowReceived: h.WindowReceived,
		TTLSent: h.TTLSent, TTLReceived: h.TTLReceived, ISNOffset: int32(h.ISNOffset), Originated: h.Originated,
		Options: []OptionDiffRecord{},
	}
	for _, o := range h.Options {
		or := OptionDiffRecord{Option: capture.OptKindName(o.Kind), Change: o.Change.String(), NOPs: o.NOPs}
		if hasValue(o.Kind) && o.Change != analyze.OptionAdded {
			or.Sent = ptr(o.Sent)
		}
		if hasValue(o.Kind) && o.Change != analyze.OptionRemoved {
			or.Received = ptr(o.Received)
		}
		r.Options = append(r.Options, or)
	}
	return r
}

// hasValue reports the option kinds whose values a diff compares.
func hasValue(kind uint8) bool {
	return kind == capture.OptKindMSS || kind == capture.OptKindWScale || kind == capture.OptKindTimestamp
}

// rwinView puts the advertised window of direction d's sender as its
// own capture shows it — what it grants — beside the window its peer's
// capture shows with the peer's idea of the shift — what the peer believes.
// Without knowing which capture is whose, A's view comes first.
func rwinView(p *analyze.FlowPair, d analyze.Direction, fa, fb *analyze.Flow) rwinViewRecord {
	own := p.Near(d)
	v := rwinViewRecord{SidesKnown: own != analyze.CaptureUnknown}
	if own == analyze.CaptureUnknown {
		own = analyze.CaptureA
	}
	v.Grants = rwinSeenR{Capture: captureKey(own), RWINRecord: RWINOf(p.Sender(d, own, fa, fb))}
	v.Believed = rwinSeenR{Capture: captureKey(own.Other()), RWINRecord: RWINOf(p.Sender(d, own.Other(), fa, fb))}
	return v
}

// diffSignals renders the pairing signals: "timestamps 5, isn 2".
func diffSignals(p *analyze.FlowPair) string {
	var s []string
	for _, x := range p.Signals {
		s = append(s, fmt.Sprintf("%s %d", x.Signal, x.Count))
	}
	if len(s) == 0 {
		return "no signal"
	}
	return strings.Join(s, ", ")
}
