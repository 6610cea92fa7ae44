package analyze

import "time"

// Numbers derived from a flow's facts, defined once here so that the rules
// and every output compute them with the same guards.

// minRateSpan is the shortest data span a rate is computed over: data
// spread over less is a burst the link paced, not a rate.
const minRateSpan = time.Millisecond

// BitRate returns the rate (bit/s) of bytes carried over d: a window per
// round trip (RWIN/RTT), or data per span.
func BitRate(bytes float64, d time.Duration) float64 { return bytes * 8 / (float64(d) / 1e9) }

// DataSpan is the time from e's first data segment to its last: ok
// only when it sent more than one and every one had a timestamp, since
// bytes the capture did not time give no rate.
func (e *Endpoint) DataSpan() (span time.Duration, ok bool) {
	if e.DataPackets < 2 || e.UntimedData > 0 {
		return 0, false
	}
	return time.Duration(e.LastData - e.FirstData), true
}

// Rate returns the rate (bit/s) at which e's data advanced: the bytes its
// highest sequence number advanced over its data span, ok when that span
// is timed and lasts a millisecond or more.
func (e *Endpoint) Rate() (bps float64, ok bool) {
	span, timed := e.DataSpan()
	if !timed || span < minRateSpan {
		return 0, false
	}
	return BitRate(float64(e.UniqueBytes), span), true
}

// MedianWindow returns e's median effective window (bytes): its median
// window field scaled by its shift. ok is false when it advertised no
// window or its shift is unknown; with an inferred shift the value is a
// lower bound.
func (e *Endpoint) MedianWindow() (bytes uint64, ok bool) {
	if e.Window.Samples == 0 || e.Shift.Basis == BasisUnknown {
		return 0, false
	}
	return uint64(e.Shift.Value.Scale(e.Window.Median)), true
}

// Duration is the time from the flow's first packet to its last, valid
// when Timed.
func (f *Flow) Duration() time.Duration { return time.Duration(f.End - f.Start) }

// SingleFlight reports that e sent its data within less than two path
// round trips: one flight the window let go at once, whose spread at the
// capture point is the link's pacing, not a rate the flow sustains (it
// can exceed the RWIN/RTT ceiling it sits next to).
func (f *Flow) SingleFlight(e *Endpoint) bool {
	rtt := f.PathRTT()
	return e.DataPackets > 1 && rtt > 0 && time.Duration(e.LastData-e.FirstData) < 2*rtt
}

// Goodput returns the rate (bit/s) e's data achieved (Rate), ok when it
// is known and no single flight.
func (f *Flow) Goodput(e *Endpoint) (bps float64, ok bool) {
	if f.SingleFlight(e) {
		return 0, false
	}
	return e.Rate()
}

// Ceiling returns the RWIN/RTT ceiling (bit/s) of e's data: its peer's
// median effective window per path round trip, the fastest one flow's
// data can go (throughput ≤ RWIN/RTT). ok is false unless the peer's
// shift was negotiated, it advertised a window and the RTT is known.
func (f *Flow) Ceiling(e *Endpoint) (bps float64, ok bool) {
	peer, rtt := f.Peer(e), f.PathRTT()
	if rtt <= 0 || peer.Shift.Basis != BasisNegotiated {
		return 0, false
	}
	win, ok := peer.MedianWindow()
	if !ok {
		return 0, false
	}
	return BitRate(float64(win), rtt), true
}
