package report

import (
	"time"

	"rwin/analyze"
	"rwin/rules"
)

// Flow is one finished flow as every sink sees it: the analyzer's facts,
// the rules' findings, and every number derived from both, computed here
// once (NewFlow) so the text table, the detail block, JSON, the HTML
// report and the metrics cannot disagree about a ceiling or a rate.
type Flow struct {
	File string
	// Facts is valid only during Sink.Flow: the analyzer reuses it.
	Facts    *analyze.Flow
	Findings []rules.Finding // most severe first
	// Series is the flow's time series for a SeriesSink, which owns it:
	// it keeps it or frees it to its budget; nil for other sinks, and when
	// the budget was spent as the flow began.
	Series *analyze.Series
	// Notes are handshake notes the reader adds to the analyzer's (a
	// handshake that may lie in a ring buffer's earlier file).
	Notes []string
	// RTT is the path RTT, 0 when unknown.
	RTT time.Duration
	// Client and Server are what each endpoint sent, measured against its
	// peer's windows, and the windows it advertised itself.
	Client, Server Side
}

// Side is one endpoint's part of a flow: the windows it advertised and
// the data it sent against its peer's windows.
type Side struct {
	// Window is the endpoint's median effective window (bytes): exact when
	// Basis is negotiated, a lower bound when inferred; WindowKnown false
	// when it advertised no window or its shift is unknown.
	Window      uint64
	WindowKnown bool
	Basis       analyze.Basis
	// Goodput is what the endpoint's data achieved (bit/s), see
	// analyze.Flow.Goodput.
	Goodput      float64
	GoodputKnown bool
	// SingleFlight: its data left within two round trips, no sustained rate.
	SingleFlight bool
	// Ceiling is RWIN/RTT (bit/s): the peer's median negotiated window per
	// path RTT, the fastest this side's data could go (analyze.Flow.Ceiling).
	Ceiling      float64
	CeilingKnown bool
	// LossCeiling is the Mathis ceiling (bit/s) its retransmissions imply.
	LossCeiling      float64
	LossCeilingKnown bool
	// AtWindowPct is the share of its data segments that filled the peer's
	// window, known where the peer's shift was negotiated.
	AtWindowPct      float64
	AtWindowPctKnown bool
}

// Limit names the ceiling that binds a direction.
type Limit uint8

// Values of Limit.
const (
	LimitNone   Limit = iota // no ceiling known
	LimitWindow              // RWIN/RTT is the lower ceiling
	LimitLoss                // the loss ceiling is the lower
)

func (l Limit) String() string {
	switch l {
	case LimitWindow:
		return "window"
	case LimitLoss:
		return "loss"
	}
	return "none"
}

// Binds says which of the two ceilings is lower.
func (s *Side) Binds() Limit {
	switch {
	case s.LossCeilingKnown && (!s.CeilingKnown || s.LossCeiling < s.Ceiling):
		return LimitLoss
	case s.CeilingKnown:
		return LimitWindow
	}
	return LimitNone
}

// NewFlow derives the reported numbers of a finished flow.
func NewFlow(file string, f *analyze.Flow, found []rules.Finding) Flow {
	r := Flow{File: file, Facts: f, Findings: found, RTT: f.PathRTT()}
	r.Client = sideOf(f, &f.Client, &f.Server, r.RTT)
	r.Server = sideOf(f, &f.Server, &f.Client, r.RTT)
	return r
}

func sideOf(f *analyze.Flow, s, peer *analyze.Endpoint, rtt time.Duration) Side {
	d := Side{Basis: s.Shift.Basis}
	d.Window, d.WindowKnown = s.MedianWindow()
	d.Goodput, d.GoodputKnown = f.Goodput(s)
	d.SingleFlight = f.SingleFlight(s)
	d.LossCeiling, _, d.LossCeilingKnown = rules.LossCeiling(f, s, peer, rtt)
	d.Ceiling, d.CeilingKnown = f.Ceiling(s)
	if s.DataPackets > 0 && peer.Shift.Basis == analyze.BasisNegotiated {
		d.AtWindowPct, d.AtWindowPctKnown = 100*float64(s.AtWindowPackets)/float64(s.DataPackets), true
	}
	return d
}

// Severity is the most severe finding's, or -1 without findings.
func (r *Flow) Severity() int {
	if len(r.Findings) == 0 {
		return -1
	}
	return int(r.Findings[0].Severity)
}

// Flagged reports a warn or error finding.
func (r *Flow) Flagged() bool { return r.Severity() >= int(rules.Warn) }

// Rank orders flows for listing when not all can be: by their most severe
// finding, then whether they amounted to a connection.
func (r *Flow) Rank() int {
	rank := 2 * (r.Severity() + 1)
	f := r.Facts
	if f.Handshake == analyze.HandshakeComplete || f.Client.DataPackets+f.Server.DataPackets > 0 {
		rank++
	}
	return rank
}

// Ceiling is the lower RWIN/RTT ceiling of the flow's two directions, of
// those that carried data.
func (r *Flow) Ceiling() (float64, bool) {
	best, ok := 0.0, false
	for _, s := range []struct {
		side *Side
		e    *analyze.Endpoint
	}{{&r.Client, &r.Facts.Client}, {&r.Server, &r.Facts.Server}} {
		if s.side.CeilingKnown && s.e.DataPackets > 0 && (!ok || s.side.Ceiling < best) {
			best, ok = s.side.Ceiling, true
		}
	}
	return best, ok
}

// SmallestWindow is the smaller known median effective window of the two
// endpoints.
func (r *Flow) SmallestWindow() (uint64, bool) {
	best, ok := uint64(0), false
	for _, s := range []*Side{&r.Client, &r.Server} {
		if s.WindowKnown && (!ok || s.Window < best) {
			best, ok = s.Window, true
		}
	}
	return best, ok
}

// Bytes is what both endpoints sent.
func (r *Flow) Bytes() uint64 { return r.Facts.Client.Bytes + r.Facts.Server.Bytes }
