package report

import "rwin/capture"

// CaptureRecord is what a live capture adds to the summary: where and how
// it captured, why it stopped and what the kernel dropped.
type CaptureRecord struct {
	Interface string `json:"interface"`
	LinkType  int    `json:"link_type"`
	Snaplen   int    `json:"snaplen"`
	Filter    string `json:"filter"`
	// Stopped: interrupt, terminated, hangup, count, duration or error.
	Stopped string `json:"stopped"`
	// Kernel counters; null when libpcap could not read them.
	Received  *uint64 `json:"received"`
	Dropped   *uint64 `json:"dropped"`
	IfDropped *uint64 `json:"if_dropped"`
	// Weakened names the conclusions that dropped packets make less sure.
	Weakened []string `json:"weakened"`
	// WrittenTo is the -w file, or null.
	WrittenTo *string `json:"written_to"`
}

// LiveSummaryRecord is the summary record of a live capture: the summary
// of rwin read plus the capture's own facts.
type LiveSummaryRecord struct {
	SummaryRecord
	Capture CaptureRecord `json:"capture"`
}

// SetStats records the kernel's counters and what their drops weaken.
func (r *CaptureRecord) SetStats(st capture.LiveStats) {
	r.Received, r.Dropped, r.IfDropped = ptr(st.Received), ptr(st.Dropped), ptr(st.IfDropped)
	r.Weakened = dropsWeaken(st)
}

// dropsWeaken lists what a capture that missed packets can get wrong. The
// analyzer sees only what the capture saw: a dropped ACK leaves data
// looking unacknowledged, a dropped segment hides a transmission.
func dropsWeaken(st capture.LiveStats) []string {
	if st.Dropped+st.IfDropped == 0 {
		return []string{}
	}
	return []string{
		"rtt: a dropped ACK stretches the next RTT sample",
		"in-flight: a dropped ACK inflates bytes in flight and the share of segments at the window",
		"inferred-shift: inflated bytes in flight can raise an inferred minimum shift",
		"retransmissions: a dropped original makes its retransmission look like new data, so counts run low",
		"handshake: a dropped SYN or SYN-ACK leaves a flow's options, and so its scale, unknown",
	}
}
