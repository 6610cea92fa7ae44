package main

import (
	"time"

	"rwin/analyze"
	"rwin/capture"
	"rwin/rules"
)

// schemaVersion is the version of the JSON/NDJSON result model documented
// in SCHEMA.md. Adding keys keeps it; renaming, removing or changing the
// meaning of a key bumps it.
const schemaVersion = 1

// flowRecord is one flow as rwin reports it: the analyzer's facts, the
// rules' findings and the numbers derived from both. Text, JSON and NDJSON
// all render this one value. Pointers are JSON null: not known.
type flowRecord struct {
	Type           string              `json:"type"`
	Schema         int                 `json:"schema"`
	File           string              `json:"file"`
	ID             uint64              `json:"id"`
	Client         string              `json:"client"`
	Server         string              `json:"server"`
	Service        *string             `json:"service"`
	Encap          []string            `json:"encap"`
	RolesFrom      string              `json:"roles_from"`
	Start          *string             `json:"start"`
	DurationS      *float64            `json:"duration_s"`
	FirstPacket    uint64              `json:"first_packet"`
	LastPacket     uint64              `json:"last_packet"`
	Handshake      string              `json:"handshake"`
	HandshakeNotes []string            `json:"handshake_notes"`
	SYN            *handshakeRecord    `json:"syn"`
	SYNAnswered    *handshakeRecord    `json:"syn_answered"`
	SYNACK         *handshakeRecord    `json:"synack"`
	Negotiated     negotiatedRecord    `json:"negotiated"`
	RWIN           map[string]rwinRec  `json:"rwin"`
	RTT            rttRecord           `json:"rtt"`
	Traffic        map[string]trafficR `json:"traffic"`
	Evicted        bool                `json:"evicted"`
	Findings       []findingRecord     `json:"findings"`

	flow *analyze.Flow // the facts, for the text renderer
	find []rules.Finding
}

// handshakeRecord is a SYN or SYN-ACK's negotiable options.
type handshakeRecord struct {
	Packet    uint64  `json:"packet"`
	Time      string  `json:"time"`
	WS        *uint8  `json:"ws"`
	SACKPerm  bool    `json:"sack_perm"`
	TS        bool    `json:"ts"`
	MSS       *uint16 `json:"mss"`
	Layout    string  `json:"layout"`
	Window    uint16  `json:"window"`
	TTL       uint8   `json:"ttl"`
	TSVal     *uint32 `json:"tsval"`
	Truncated bool    `json:"options_truncated"`
	Malformed *string `json:"options_malformed"`
}

// negotiatedRecord is what the handshake settled; null where the capture
// cannot tell.
type negotiatedRecord struct {
	Scaling      *bool  `json:"scaling"`
	ClientShift  *uint8 `json:"client_shift"`
	ServerShift  *uint8 `json:"server_shift"`
	SACK         *bool  `json:"sack"`
	TS           *bool  `json:"ts"`
	ScalingBasis string `json:"scaling_basis"`
}

// rwinRec is the effective receive window one endpoint advertised: the
// window field shifted by that endpoint's shift, in bytes. With basis
// "inferred" the values are lower bounds; with "unknown" they are null and
// only the raw fields are known.
type rwinRec struct {
	Basis      string  `json:"basis"`
	Shift      *uint8  `json:"shift"`
	Min        *uint64 `json:"min"`
	Median     *uint64 `json:"median"`
	Max        *uint64 `json:"max"`
	Last       *uint64 `json:"last"`
	P10        *uint64 `json:"p10"`
	P90        *uint64 `json:"p90"`
	Exact      bool    `json:"exact"`
	MaxAllowed *uint64 `json:"max_allowed"`
	Samples    uint64  `json:"samples"`
	RawMin     *uint16 `json:"raw_min"`
	RawMax     *uint16 `json:"raw_max"`
	RawLast    *uint16 `json:"raw_last"`
}

// rttRecord holds round-trip times in milliseconds.
type rttRecord struct {
	HandshakeMS  *float64       `json:"handshake_ms"`
	ServerSideMS *float64       `json:"server_side_ms"`
	ClientSideMS *float64       `json:"client_side_ms"`
	ToServer     *rttSampleStat `json:"data_to_server"`
	ToClient     *rttSampleStat `json:"data_to_client"`
}

// rttSampleStat summarizes ACK-clocked RTT samples of one direction.
type rttSampleStat struct {
	Samples uint64  `json:"samples"`
	MinMS   float64 `json:"min_ms"`
	MeanMS  float64 `json:"mean_ms"`
	MaxMS   float64 `json:"max_ms"`
}

// trafficR is what one endpoint sent.
type trafficR struct {
	Packets        uint64   `json:"packets"`
	Bytes          uint64   `json:"bytes"`
	DataPackets    uint64   `json:"data_packets"`
	UniqueBytes    uint64   `json:"unique_bytes"`
	RetransPackets uint64   `json:"retrans_packets"`
	RetransBytes   uint64   `json:"retrans_bytes"`
	ThroughputBPS  *float64 `json:"throughput_bps"`
	SingleFlight   bool     `json:"single_flight"`
	CeilingBPS     *float64 `json:"ceiling_bps"`
	LossCeilingBPS *float64 `json:"loss_ceiling_bps"`
	MaxInFlight    uint32   `json:"max_in_flight"`
	AtWindowPct    *float64 `json:"at_window_pct"`
	ZeroWindows    uint64   `json:"zero_windows"`
	ZeroWindowMS   float64  `json:"zero_window_ms"`
	FIN            bool     `json:"fin"`
	RST            bool     `json:"rst"`
	IgnoredRSTs    uint64   `json:"ignored_rsts"`
	Duplicates     uint64   `json:"duplicate_packets"`
}

// findingRec is a rules.Finding in the result model; E is the evidence
// record: one packet for rwin read, a packet pair for rwin diff.
type findingRec[E any] struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Severity   string `json:"severity"`
	Confidence string `json:"confidence"`
	Why        string `json:"why"`
	Direction  string `json:"direction"`
	Summary    string `json:"summary"`
	Evidence   []E    `json:"evidence"`
	Advice     string `json:"advice"`
}

// findingRecord is a finding of rwin read.
type findingRecord = findingRec[evidenceRecord]

// newFindingRec fills the fields every finding record shares.
func newFindingRec[E any](x *rules.Finding, evidence []E) findingRec[E] {
	return findingRec[E]{ID: x.ID, Name: x.Name, Severity: x.Severity.String(), Confidence: x.Confidence.String(),
		Why: x.Why, Direction: x.Direction.String(), Summary: x.Summary, Evidence: evidence, Advice: x.Advice}
}

type evidenceRecord struct {
	Packet uint64  `json:"packet"`
	Time   *string `json:"time"`
	What   string  `json:"what"`
}

// summaryRecord closes a run: what was read, skipped and wrong.
type summaryRecord struct {
	Type     string         `json:"type"`
	Schema   int            `json:"schema"`
	Files    []fileSummary  `json:"files"`
	Packets  uint64         `json:"packets"`
	TCP      uint64         `json:"tcp_packets"`
	Flows    int            `json:"flows"`
	Skipped  uint64         `json:"skipped"`
	Errors   int            `json:"errors"`
	Findings map[string]int `json:"findings_by_severity"`
}

// fileSummary is one input's part of the summary.
type fileSummary struct {
	File      string   `json:"file"`
	Packets   uint64   `json:"packets"`
	TCP       uint64   `json:"tcp_packets"`
	Flows     int      `json:"flows"`
	Filtered  uint64   `json:"filtered"`
	NotIP     uint64   `json:"not_ip"`
	NotTCP    uint64   `json:"not_tcp"`
	Fragments uint64   `json:"fragments"`
	Truncated uint64   `json:"truncated"`
	Malformed uint64   `json:"malformed"`
	LinkType  uint64   `json:"unsupported_link"`
	Encap     uint64   `json:"unsupported_encap"`
	TruncOpts uint64   `json:"options_truncated"`
	Untimed   uint64   `json:"untimed_packets"`
	Evicted   uint64   `json:"evicted_flows"`
	Dups      uint64   `json:"duplicate_packets"`
	PeakFlows int      `json:"peak_flows"`
	CutShort  bool     `json:"cut_short"`
	Error     *string  `json:"error"`
	Warnings  []string `json:"warnings"`

	// Unanswered: server endpoints whose SYNs nothing answered, by
	// endpoint across the file's flows (absent when there are none).
	Unanswered      []unansweredRecord `json:"unanswered_servers,omitempty"`
	UnansweredOther uint64             `json:"unanswered_other_attempts,omitempty"`
}

func ptr[T any](v T) *T { return &v }

func timeString(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

func triPtr(t analyze.Tri) *bool {
	switch t {
	case analyze.Yes:
		return ptr(true)
	case analyze.No:
		return ptr(false)
	}
	return nil
}

// unansweredRecord is one server endpoint that left SYNs unanswered.
type unansweredRecord struct {
	Server        string   `json:"server"`
	Clients       int      `json:"clients"`
	ClientsCapped bool     `json:"clients_at_least"`
	Attempts      uint64   `json:"attempts"`
	SYNs          uint64   `json:"syns"`
	First         *string  `json:"first"`
	DurationS     *float64 `json:"duration_s"`
}

// unansweredRecords converts the analyzer's table; times stay null when
// no attempt had a timestamp.
func unansweredRecords(u *analyze.Unanswered) []unansweredRecord {
	var out []unansweredRecord
	for _, s := range u.Servers {
		r := unansweredRecord{Server: s.Server.String(), Clients: s.Clients, ClientsCapped: s.ClientsCapped,
			Attempts: s.Attempts, SYNs: s.SYNs}
		if s.Last != 0 {
			r.First, r.DurationS = ptr(timeString(s.First)), ptr(float64(s.Last-s.First)/1e9)
		}
		out = append(out, r)
	}
	return out
}

// newFlowRecord derives the reported values of a finished flow.
func newFlowRecord(file string, f *analyze.Flow, found []rules.Finding) flowRecord {
	r := flowRecord{
		Type: "flow", Schema: schemaVersion, File: file, ID: f.ID,
		Client: f.Client.Addr.String(), Server: f.Server.Addr.String(),
		RolesFrom: f.Roles.String(), Start: flowStart(f), DurationS: flowDuration(f),
		FirstPacket: f.FirstPacket, LastPacket: f.LastPacket,
		Handshake: f.Handshake.String(), HandshakeNotes: handshakeNotes(f),
		SYN: handshakeRec(&f.SYN), SYNACK: handshakeRec(&f.SYNACK),
		Encap: f.Encap.Names(), Evicted: f.Evicted, flow: f, find: found,
		Findings: make([]findingRecord, 0, len(found)),
	}
	if r.Encap == nil {
		r.Encap = []string{}
	}
	if f.Service != "" {
		r.Service = ptr(f.Service)
	}
	if f.SYNs > 1 {
		r.SYNAnswered = handshakeRec(&f.AnsweredSYN)
	}
	r.Negotiated = negotiatedRecord{
		Scaling: triPtr(f.Negotiated.Scaling), SACK: triPtr(f.Negotiated.SACK), TS: triPtr(f.Negotiated.Timestamps),
		ScalingBasis: f.Negotiated.ScalingFrom.String(),
	}
	if f.Client.Shift.Basis == analyze.BasisNegotiated {
		r.Negotiated.ClientShift = ptr(uint8(f.Client.Shift.Value))
	}
	if f.Server.Shift.Basis == analyze.BasisNegotiated {
		r.Negotiated.ServerShift = ptr(uint8(f.Server.Shift.Value))
	}
	r.RWIN = map[string]rwinRec{"client": rwinOf(&f.Client), "server": rwinOf(&f.Server)}

	rtt := f.RTT()
	if rtt > 0 {
		r.RTT.HandshakeMS = ptr(ms(rtt))
	}
	if f.ServerRTT > 0 {
		r.RTT.ServerSideMS = ptr(ms(f.ServerRTT))
	}
	if f.ClientRTT > 0 {
		r.RTT.ClientSideMS = ptr(ms(f.ClientRTT))
	}
	r.RTT.ToServer = rttStat(f.Client.RTT)
	r.RTT.ToClient = rttStat(f.Server.RTT)
	r.Traffic = map[string]trafficR{
		"client": trafficOf(f, &f.Client, &f.Server, f.PathRTT()),
		"server": trafficOf(f, &f.Server, &f.Client, f.PathRTT()),
	}
	for _, x := range found {
		r.Findings = append(r.Findings, newFindingRec(&x, evidenceRecords(x.Evidence)))
	}
	return r
}

// evidenceRecords renders a finding's evidence; never nil, so JSON shows [].
func evidenceRecords(ev []rules.Evidence) []evidenceRecord {
	out := make([]evidenceRecord, 0, len(ev))
	for _, e := range ev {
		er := evidenceRecord{Packet: e.Packet, What: e.What}
		if e.Time != 0 {
			er.Time = ptr(timeString(e.Time))
		}
		out = append(out, er)
	}
	return out
}

func handshakeNotes(f *analyze.Flow) []string {
	notes := []string{}
	if f.SYNs > 1 {
		notes = append(notes, "syn-retransmitted")
	}
	if f.SYNChanged {
		notes = append(notes, "syn-options-changed")
	}
	if f.SYNACKs > 1 {
		notes = append(notes, "synack-retransmitted")
	}
	if f.SYNACKChanged {
		notes = append(notes, "synack-options-changed")
	}
	if f.SYNACKAckMismatch {
		notes = append(notes, "synack-ack-mismatch")
	}
	return notes
}

func handshakeRec(hs *analyze.HandshakeSegment) *handshakeRecord {
	if !hs.Seen {
		return nil
	}
	o := &hs.Opts
	r := &handshakeRecord{
		Packet: hs.Packet, Time: timeString(hs.Time),
		SACKPerm: o.Has&capture.HasSACKPerm != 0, TS: o.Has&capture.HasTimestamp != 0,
		Layout: o.Layout.String(), Window: hs.Window, TTL: hs.TTL, Truncated: o.Truncated,
	}
	if o.Has&capture.HasWScale != 0 {
		r.WS = ptr(uint8(o.WScale))
	}
	if o.Has&capture.HasMSS != 0 {
		r.MSS = ptr(o.MSS)
	}
	if o.Has&capture.HasTimestamp != 0 {
		r.TSVal = ptr(o.TSVal)
	}
	if o.Issue.Problem != capture.OptOK {
		r.Malformed = ptr(o.Issue.String())
	}
	return r
}

func rwinOf(e *analyze.Endpoint) rwinRec {
	w := &e.Window
	r := rwinRec{Basis: e.Shift.Basis.String(), Samples: w.Samples, Exact: w.Exact()}
	if e.Shift.Basis != analyze.BasisUnknown {
		r.Shift = ptr(uint8(e.Shift.Value))
		r.MaxAllowed = ptr(uint64(e.Shift.Value.Scale(0xffff)))
	}
	if w.Samples == 0 {
		return r
	}
	r.RawMin, r.RawMax, r.RawLast = ptr(w.Min), ptr(w.Max), ptr(w.Last)
	if e.Shift.Basis == analyze.BasisUnknown {
		return r
	}
	scale := func(v uint16) *uint64 { return ptr(uint64(e.Shift.Value.Scale(v))) }
	r.Min, r.Max, r.Last = scale(w.Min), scale(w.Max), scale(w.Last)
	r.Median, r.P10, r.P90 = scale(w.Quantile(0.5)), scale(w.Quantile(0.1)), scale(w.Quantile(0.9))
	return r
}

func rttStat(s analyze.RTTStats) *rttSampleStat {
	if s.Samples == 0 {
		return nil
	}
	return &rttSampleStat{Samples: s.Samples, MinMS: ms(s.Min), MeanMS: ms(s.Mean()), MaxMS: ms(s.Max)}
}

// throughputOf is s's goodput in bit/s: the bytes its highest sequence
// number advanced over the time between its first and last data segment,
// known when that spans a millisecond or more, every data segment had a
// timestamp, and it is no single flight.
func throughputOf(f *analyze.Flow, s *analyze.Endpoint) (float64, bool) {
	span, timed := s.DataSpan()
	if timed && span >= int64(time.Millisecond) && !singleFlight(f, s) {
		return float64(s.UniqueBytes) * 8 / (float64(span) / 1e9), true
	}
	return 0, false
}

// singleFlight reports data s sent within less than two round trips: one
// flight the window let go at once, whose spread at the capture point is
// the link's pacing, not a rate the flow sustains (it can exceed the
// RWIN/RTT ceiling it sits next to).
func singleFlight(f *analyze.Flow, s *analyze.Endpoint) bool {
	rtt := f.PathRTT()
	return s.DataPackets > 1 && rtt > 0 && s.LastData-s.FirstData < 2*rtt
}

// trafficOf reports what s sent to r; rtt (ns, 0 if unknown) turns r's
// median effective window into the RWIN/RTT ceiling on s's throughput.
func trafficOf(f *analyze.Flow, s, r *analyze.Endpoint, rtt int64) trafficR {
	t := trafficR{
		Packets: s.Packets, Bytes: s.Bytes, DataPackets: s.DataPackets, UniqueBytes: s.UniqueBytes,
		RetransPackets: s.RetransPackets, RetransBytes: s.RetransBytes, MaxInFlight: s.MaxInFlight,
		ZeroWindows: s.ZeroWindows, ZeroWindowMS: ms(s.ZeroTime), FIN: s.FINPacket != 0, RST: s.RSTPacket != 0,
		IgnoredRSTs: s.IgnoredRSTs, Duplicates: s.Duplicates,
	}
	if bps, ok := throughputOf(f, s); ok {
		t.ThroughputBPS = ptr(bps)
	}
	t.SingleFlight = singleFlight(f, s)
	if lc, _, ok := rules.LossCeiling(f, s, r, rtt); ok {
		t.LossCeilingBPS = ptr(lc)
	}
	if rtt > 0 && r.Shift.Basis == analyze.BasisNegotiated && r.Window.Samples > 0 {
		win := float64(r.Shift.Value.Scale(r.Window.Quantile(0.5)))
		t.CeilingBPS = ptr(win * 8 / (float64(rtt) / 1e9))
	}
	if s.DataPackets > 0 && r.Shift.Basis == analyze.BasisNegotiated {
		t.AtWindowPct = ptr(100 * float64(s.AtWindowPackets) / float64(s.DataPackets))
	}
	return t
}
