package report

import (
	"time"

	"rwin/analyze"
	"rwin/capture"
	"rwin/rules"
)

// SchemaVersion is the version of the JSON/NDJSON result model documented
// in SCHEMA.md. Adding keys keeps it; renaming, removing or changing the
// meaning of a key bumps it.
const SchemaVersion = 1

// FlowRecord is a Flow as JSON and NDJSON write it (SCHEMA.md). Pointers
// are JSON null: not known.
type FlowRecord struct {
	Type           string                   `json:"type"`
	Schema         int                      `json:"schema"`
	File           string                   `json:"file"`
	ID             uint64                   `json:"id"`
	Client         string                   `json:"client"`
	Server         string                   `json:"server"`
	Service        *string                  `json:"service"`
	Encap          []string                 `json:"encap"`
	RolesFrom      string                   `json:"roles_from"`
	Start          *string                  `json:"start"`
	DurationS      *float64                 `json:"duration_s"`
	FirstPacket    uint64                   `json:"first_packet"`
	LastPacket     uint64                   `json:"last_packet"`
	Handshake      string                   `json:"handshake"`
	HandshakeNotes []string                 `json:"handshake_notes"`
	SYN            *HandshakeRecord         `json:"syn"`
	SYNAnswered    *HandshakeRecord         `json:"syn_answered"`
	SYNACK         *HandshakeRecord         `json:"synack"`
	Negotiated     NegotiatedRecord         `json:"negotiated"`
	RWIN           map[string]RWINRecord    `json:"rwin"`
	RTT            RTTRecord                `json:"rtt"`
	Traffic        map[string]TrafficRecord `json:"traffic"`
	Evicted        bool                     `json:"evicted"`
	Findings       []FindingRecord          `json:"findings"`
}

// HandshakeRecord is a SYN or SYN-ACK's negotiable options.
type HandshakeRecord struct {
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

// NegotiatedRecord is what the handshake settled; null where the capture
// cannot tell.
type NegotiatedRecord struct {
	Scaling      *bool  `json:"scaling"`
	ClientShift  *uint8 `json:"client_shift"`
	ServerShift  *uint8 `json:"server_shift"`
	SACK         *bool  `json:"sack"`
	TS           *bool  `json:"ts"`
	ScalingBasis string `json:"scaling_basis"`
}

// RWINRecord is the effective receive window one endpoint advertised: the
// window field shifted by that endpoint's shift, in bytes. With basis
// "inferred" the values are lower bounds; with "unknown" they are null and
// only the raw fields are known.
type RWINRecord struct {
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

// RTTRecord holds round-trip times in milliseconds.
type RTTRecord struct {
	HandshakeMS  *float64       `json:"handshake_ms"`
	ServerSideMS *float64       `json:"server_side_ms"`
	ClientSideMS *float64       `json:"client_side_ms"`
	ToServer     *RTTSampleStat `json:"data_to_server"`
	ToClient     *RTTSampleStat `json:"data_to_client"`
}

// RTTSampleStat summarizes ACK-clocked RTT samples of one direction.
type RTTSampleStat struct {
	Samples uint64  `json:"samples"`
	MinMS   float64 `json:"min_ms"`
	MeanMS  float64 `json:"mean_ms"`
	MaxMS   float64 `json:"max_ms"`
}

// TrafficRecord is what one endpoint sent.
type TrafficRecord struct {
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

// FindingRec is a rules.Finding in the result model; E is the evidence
// record: one packet for rwin read, a packet pair for rwin diff.
type FindingRec[E any] struct {
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

// FindingRecord is a finding of rwin read.
type FindingRecord = FindingRec[EvidenceRecord]

// NewFindingRec fills the fields every finding record shares.
func NewFindingRec[E any](x *rules.Finding, evidence []E) FindingRec[E] {
	return FindingRec[E]{ID: x.ID, Name: x.Name, Severity: x.Severity.String(), Confidence: x.Confidence.String(),
		Why: x.Why, Direction: x.Direction.String(), Summary: x.Summary, Evidence: evidence, Advice: x.Advice}
}

// EvidenceRecord is one packet a finding of rwin read cites.
type EvidenceRecord struct {
	Packet uint64  `json:"packet"`
	Time   *string `json:"time"`
	What   string  `json:"what"`
}

// SummaryRecord closes a run: what was read, skipped and wrong.
type SummaryRecord struct {
	Type     string         `json:"type"`
	Schema   int            `json:"schema"`
	Files    []FileSummary  `json:"files"`
	Packets  uint64         `json:"packets"`
	TCP      uint64         `json:"tcp_packets"`
	Flows    int            `json:"flows"`
	Skipped  uint64         `json:"skipped"`
	Errors   int            `json:"errors"`
	Findings map[string]int `json:"findings_by_severity"`
}

// FileSummary is one input's part of the summary.
type FileSummary struct {
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
	Unanswered      []UnansweredRecord `json:"unanswered_servers,omitempty"`
	UnansweredOther uint64             `json:"unanswered_other_attempts,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// TimeString renders a capture time (ns since the epoch) as RFC 3339, UTC.
func TimeString(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// Millis is d in milliseconds, as the records give durations.
func Millis(d time.Duration) float64 { return float64(d) / 1e6 }

func triPtr(t analyze.Tri) *bool {
	switch t {
	case analyze.Yes:
		return ptr(true)
	case analyze.No:
		return ptr(false)
	}
	return nil
}

// UnansweredRecord is one server endpoint that left SYNs unanswered.
type UnansweredRecord struct {
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
func unansweredRecords(u *analyze.Unanswered) []UnansweredRecord {
	var out []UnansweredRecord
	for _, s := range u.Servers {
		r := UnansweredRecord{Server: s.Server.String(), Clients: s.Clients, ClientsCapped: s.ClientsCapped,
			Attempts: s.Attempts, SYNs: s.SYNs}
		if s.Last != 0 {
			r.First, r.DurationS = ptr(TimeString(s.First)), ptr(float64(s.Last-s.First)/1e9)
		}
		out = append(out, r)
	}
	return out
}

// Record is the flow as JSON and NDJSON write it (SCHEMA.md).
func (fl *Flow) Record() FlowRecord {
	f, found := fl.Facts, fl.Findings
	r := FlowRecord{
		Type: "flow", Schema: SchemaVersion, File: fl.File, ID: f.ID,
		Client: f.Client.Addr.String(), Server: f.Server.Addr.String(),
		RolesFrom: f.Roles.String(), Start: flowStart(f), DurationS: flowDuration(f),
		FirstPacket: f.FirstPacket, LastPacket: f.LastPacket,
		Handshake: f.Handshake.String(), HandshakeNotes: append(handshakeNotes(f), fl.Notes...),
		SYN: handshakeRec(&f.SYN), SYNACK: handshakeRec(&f.SYNACK),
		Encap: f.Encap.Names(), Evicted: f.Evicted,
		Findings: make([]FindingRecord, 0, len(found)),
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
	r.Negotiated = NegotiatedRecord{
		Scaling: triPtr(f.Negotiated.Scaling), SACK: triPtr(f.Negotiated.SACK), TS: triPtr(f.Negotiated.Timestamps),
		ScalingBasis: f.Negotiated.ScalingFrom.String(),
	}
	if f.Client.Shift.Basis == analyze.BasisNegotiated {
		r.Negotiated.ClientShift = ptr(uint8(f.Client.Shift.Value))
	}
	if f.Server.Shift.Basis == analyze.BasisNegotiated {
		r.Negotiated.ServerShift = ptr(uint8(f.Server.Shift.Value))
	}
	r.RWIN = map[string]RWINRecord{"client": RWINOf(&f.Client), "server": RWINOf(&f.Server)}

	rtt := f.RTT()
	if rtt > 0 {
		r.RTT.HandshakeMS = ptr(Millis(rtt))
	}
	if f.ServerRTT > 0 {
		r.RTT.ServerSideMS = ptr(Millis(f.ServerRTT))
	}
	if f.ClientRTT > 0 {
		r.RTT.ClientSideMS = ptr(Millis(f.ClientRTT))
	}
	r.RTT.ToServer = rttStat(f.Client.RTT)
	r.RTT.ToClient = rttStat(f.Server.RTT)
	r.Traffic = map[string]TrafficRecord{
		"client": trafficOf(&f.Client, &fl.Client),
		"server": trafficOf(&f.Server, &fl.Server),
	}
	for _, x := range found {
		r.Findings = append(r.Findings, NewFindingRec(&x, EvidenceRecords(x.Evidence)))
	}
	return r
}

// EvidenceRecords renders a finding's evidence; never nil, so JSON shows [].
func EvidenceRecords(ev []rules.Evidence) []EvidenceRecord {
	out := make([]EvidenceRecord, 0, len(ev))
	for _, e := range ev {
		er := EvidenceRecord{Packet: e.Packet, What: e.What}
		if e.Time != 0 {
			er.Time = ptr(TimeString(e.Time))
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

func handshakeRec(hs *analyze.HandshakeSegment) *HandshakeRecord {
	if !hs.Seen {
		return nil
	}
	o := &hs.Opts
	r := &HandshakeRecord{
		Packet: hs.Packet, Time: TimeString(hs.Time),
		SACKPerm: o.Carries(capture.HasSACKPerm), TS: o.Carries(capture.HasTimestamp),
		Layout: o.Layout.String(), Window: hs.Window, TTL: hs.TTL, Truncated: o.Truncated,
	}
	if o.Carries(capture.HasWScale) {
		r.WS = ptr(uint8(o.WScale))
	}
	if o.Carries(capture.HasMSS) {
		r.MSS = ptr(o.MSS)
	}
	if o.Carries(capture.HasTimestamp) {
		r.TSVal = ptr(o.TSVal)
	}
	if o.Issue.Problem != capture.OptOK {
		r.Malformed = ptr(o.Issue.String())
	}
	return r
}

// RWINOf is the record of the windows an endpoint advertised.
func RWINOf(e *analyze.Endpoint) RWINRecord {
	w := &e.Window
	r := RWINRecord{Basis: e.Shift.Basis.String(), Samples: w.Samples, Exact: !w.Estimated}
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
	r.Median, r.P10, r.P90 = scale(w.Median), scale(w.P10), scale(w.P90)
	return r
}

func rttStat(s analyze.RTTStats) *RTTSampleStat {
	if s.Samples == 0 {
		return nil
	}
	return &RTTSampleStat{Samples: s.Samples, MinMS: Millis(s.Min), MeanMS: Millis(s.Mean()), MaxMS: Millis(s.Max)}
}

// trafficOf reports what s sent and the derived numbers of its side.
func trafficOf(s *analyze.Endpoint, d *Side) TrafficRecord {
	t := TrafficRecord{
		Packets: s.Packets, Bytes: s.Bytes, DataPackets: s.DataPackets, UniqueBytes: s.UniqueBytes,
		RetransPackets: s.RetransPackets, RetransBytes: s.RetransBytes, MaxInFlight: s.MaxInFlight,
		ZeroWindows: s.ZeroWindows, ZeroWindowMS: Millis(s.ZeroTime), FIN: s.FINPacket != 0, RST: s.RSTPacket != 0,
		IgnoredRSTs: s.IgnoredRSTs, Duplicates: s.Duplicates, SingleFlight: d.SingleFlight,
	}
	if d.GoodputKnown {
		t.ThroughputBPS = ptr(d.Goodput)
	}
	if d.LossCeilingKnown {
		t.LossCeilingBPS = ptr(d.LossCeiling)
	}
	if d.CeilingKnown {
		t.CeilingBPS = ptr(d.Ceiling)
	}
	if d.AtWindowPctKnown {
		t.AtWindowPct = ptr(d.AtWindowPct)
	}
	return t
}
