package report

import (
	"fmt"
	"math"
	"strconv"

	"rwin/analyze"
)

// ChartData is what the charts of one direction of one flow draw, one
// value per time bucket of its series (see analyze.Series); NaN is a gap.
type ChartData struct {
	Flow  string `json:"flow"`  // the flow's anchor: its charts share a cursor and zoom
	Width int64  `json:"width"` // bucket width, ns
	// T is each bucket's start, in seconds since the epoch.
	T times `json:"t"`
	// Win is the receiver's effective window (the window field shifted by
	// its shift), carried forward between advertisements: a step line.
	// With the shift unknown it is the raw field, WinLabel says so.
	Win      nums   `json:"win"`
	WinLabel string `json:"winLabel"`
	// Raw is the window field taken unscaled, where scaling is in
	// question (the flow has a warning or error and the shift is above 0).
	Raw      nums `json:"raw,omitempty"`
	InFlight nums `json:"inflight"`
	// Markers, at the height of the window: retransmissions, zero
	// windows (at 0), resets, and the packets findings cite.
	Retrans  nums     `json:"retrans"`
	Zero     nums     `json:"zero"`
	RST      nums     `json:"rst"`
	Evidence nums     `json:"evidence"`
	EvText   []string `json:"evText"` // per evidence marker bucket, the packets
	// Thr is the sender's throughput (bit/s) per bucket; Ceil the
	// RWIN/RTT ceiling from the window then and the flow's RTT; Loss the
	// loss ceiling (Mathis et al.) from its retransmission rate, if any.
	Thr    nums    `json:"thr"`
	Ceil   nums    `json:"ceil"`
	Loss   float64 `json:"loss"`
	RTTMin nums    `json:"rttMin"`
	RTTMax nums    `json:"rttMax"`
}

// nums encodes NaN as null, uPlot's gap.
type nums []float64

// MarshalJSON writes the numbers compactly, NaN as null.
func (n nums) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 8*len(n)+2)
	b = append(b, '[')
	for i, v := range n {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, v, 'g', 7, 64)
	}
	return append(b, ']'), nil
}

// times encodes seconds since the epoch to the microsecond.
type times []float64

// MarshalJSON writes the times with six decimals.
func (t times) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 18*len(t)+2)
	b = append(b, '[')
	for i, v := range t {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, v, 'f', 6, 64)
	}
	return append(b, ']'), nil
}

func gaps(n int) nums {
	s := make(nums, n)
	for i := range s {
		s[i] = nan
	}
	return s
}

// chartsOf builds a charted flow's section and the data of its charts,
// keyed by the placeholders' data-chart.
func chartsOf(hf *htmlFlow, anchor, label string) (chartView, map[string]*ChartData) {
	r := &hf.Rec
	cv := chartView{Anchor: anchor, Title: fmt.Sprintf("%s %s → %s", label, r.Client, r.Server),
		Why: ChartWhy(hf.reasons), Findings: r.Findings}
	if r.Service != nil {
		cv.Title += " (" + *r.Service + ")"
	}
	data := map[string]*ChartData{}
	s := hf.Series
	if s == nil {
		cv.Note = "No time series: the flow started while the report's memory budget for series was spent."
		return cv, data
	}
	for d, side := range []struct{ sender, receiver string }{{"client", "server"}, {"server", "client"}} {
		t := r.Traffic[side.sender]
		if t.DataPackets == 0 {
			continue
		}
		key := fmt.Sprintf("%s/%d", anchor, d)
		data[key] = DirectionData(&hf.Charted, d, anchor, side.receiver)
		dv := dirView{Label: fmt.Sprintf("%s → %s: %s's data, %s's window", side.sender, side.receiver, side.sender, side.receiver)}
		for _, k := range ChartKinds {
			if k == "rtt" && !hasRTT(s.Points(analyze.Direction(d))) {
				dv.Note = "No RTT samples in this direction: no data segment was acknowledged once, unretransmitted, in the capture."
				continue
			}
			dv.Charts = append(dv.Charts, key+"/"+k)
		}
		cv.Dirs = append(cv.Dirs, dv)
	}
	// The direction that carried more data first: it is the one to look at.
	if len(cv.Dirs) == 2 && r.Traffic["server"].UniqueBytes > r.Traffic["client"].UniqueBytes {
		cv.Dirs[0], cv.Dirs[1] = cv.Dirs[1], cv.Dirs[0]
	}
	if len(cv.Dirs) == 0 {
		cv.Note = "No data segments in either direction: nothing to chart."
	}
	return cv, data
}

func hasRTT(pts []analyze.SeriesPoint) bool {
	for _, p := range pts {
		if p.RTTs > 0 {
			return true
		}
	}
	return false
}

// DirectionData fills the chart data of direction d (0: the client's
// data and the server's window) of a flow from its series.
func DirectionData(hf *Charted, d int, anchor, receiver string) *ChartData {
	s := hf.Series
	pts := s.Points(analyze.Direction(d))
	n := len(pts)
	sh := hf.Shift[1-d] // the receiver's: d is ToServer (0) for the client's data
	c := &ChartData{Flow: anchor, Width: s.Width().Nanoseconds(), T: make(times, n), Win: gaps(n), InFlight: gaps(n),
		Retrans: gaps(n), Zero: gaps(n), RST: gaps(n), Evidence: gaps(n), EvText: make([]string, n),
		Thr: make(nums, n), Ceil: gaps(n), RTTMin: gaps(n), RTTMax: gaps(n)}
	known := sh.Basis != analyze.BasisUnknown
	switch sh.Basis {
	case analyze.BasisUnknown:
		c.WinLabel = receiver + "'s window field (shift unknown)"
	case analyze.BasisInferred:
		c.WinLabel = fmt.Sprintf("%s's window (shift ≥ %d, inferred)", receiver, sh.Value)
	default:
		c.WinLabel = fmt.Sprintf("%s's window (shift %d)", receiver, sh.Value)
	}
	inQuestion := known && sh.Value > 0 && scalingInQuestion(hf.Rec.Findings)
	if inQuestion {
		c.Raw = gaps(n)
	}
	width := s.Width().Seconds()
	win, raw := nan, nan
	for i, p := range pts {
		c.T[i] = float64(s.BucketStart(i)) / 1e9
		if p.Adverts > 0 {
			raw = float64(p.WinLast)
			win = raw
			if known {
				win = float64(sh.Value.Scale(p.WinLast))
			}
		}
		c.Win[i] = win
		if inQuestion {
			c.Raw[i] = raw
		}
		if p.InFlight > 0 {
			c.InFlight[i] = float64(p.InFlight)
		}
		mark := win
		if math.IsNaN(mark) {
			mark = 0
		}
		if p.Retrans > 0 {
			c.Retrans[i] = max(mark, float64(p.InFlight))
		}
		if p.Zero > 0 {
			c.Zero[i] = 0
		}
		if p.RST {
			c.RST[i] = 0
		}
		c.Thr[i] = float64(p.Bytes) * 8 / width
		if hf.RTT > 0 && known && !math.IsNaN(win) {
			c.Ceil[i] = analyze.BitRate(win, hf.RTT)
		}
		if p.RTTs > 0 {
			c.RTTMin[i], c.RTTMax[i] = float64(p.RTTMin)/1e3, float64(p.RTTMax)/1e3
		}
	}
	for _, f := range hf.Find {
		for _, e := range f.Evidence {
			// By time where the finding gives it, else by packet number.
			i := s.Bucket(e.Packet)
			if e.Time != 0 {
				i = s.At(e.Time)
			}
			if e.Time == 0 && i < 0 {
				i = 0 // the handshake, before the series began: at its start
			}
			if i < 0 || i >= n {
				continue
			}
			c.MarkEvidence(i, fmt.Sprintf("#%d %s (%s)", e.Packet, e.What, f.ID))
		}
	}
	c.Loss = lossCeiling(hf, d)
	return c
}

// MarkEvidence puts an evidence marker in bucket i, at the height of the
// window, and adds what it cites to the bucket's text.
func (c *ChartData) MarkEvidence(i int, text string) {
	c.Evidence[i] = c.Win[i]
	if math.IsNaN(c.Evidence[i]) {
		c.Evidence[i] = 0
	}
	if c.EvText[i] != "" {
		c.EvText[i] += "; "
	}
	c.EvText[i] += text
}

// scalingFindings are the findings that put window scaling in question:
// a device that strips, zeroes or rewrites the option, enforces the
// unscaled window, or answers the handshake in the server's name.
var scalingFindings = map[string]bool{"unscaled-window-enforced": true, "wscale-stripped": true,
	"wscale-zeroed": true, "wscale-invalid": true, "wscale-non-syn": true, "syn-proxy": true,
	"path-enforces-unscaled-window": true, "path-rewrites-wscale": true, "path-answers-handshake": true}

func scalingInQuestion(found []FindingRecord) bool {
	for _, x := range found {
		if scalingFindings[x.ID] {
			return true
		}
	}
	return false
}

// lossCeiling is the record's Mathis ceiling of direction d's sender
// (rules.LossCeiling), 0 without loss or RTT. It takes retransmissions for
// losses, so it is an estimate, and the chart says so.
func lossCeiling(hf *Charted, d int) float64 {
	if t := hf.Rec.Traffic[[2]string{"client", "server"}[d]]; t.LossCeilingBPS != nil {
		return *t.LossCeilingBPS
	}
	return 0
}
