package capture

// Verdict says what Decode made of a frame.
type Verdict uint8

// Verdicts of Decode. Only VerdictTCP fills a Segment; the others are
// counted by the caller, and VerdictTruncated/VerdictMalformed carry an
// Issue worth a warning.
const (
	VerdictTCP       Verdict = iota // a TCP segment was decoded into the Segment
	VerdictNotIP                    // a frame of another network protocol (ARP, LLDP, …)
	VerdictNotTCP                   // IP carrying another transport (UDP, ICMP, …), or TCP quoted in ICMP
	VerdictFragment                 // a non-first IP fragment: no TCP header in it
	VerdictTruncated                // the snaplen cut the frame before the fixed TCP header ended
	VerdictMalformed                // a header contradicts itself (bad IHL, data offset < 5, …)
	VerdictLinkType                 // the link type is not one rwin decodes
)

// DecodeIssue locates why a frame was not decoded, for one-line warnings.
type DecodeIssue struct {
	Layer  string // "ethernet", "ipv4", "ipv6", "tcp", …: a constant, never built per packet
	Offset int    // byte offset in the frame where decoding stopped
	Reason string // a constant phrase, e.g. "data offset below 5"
}

// Decoder decodes link, IP and TCP headers into a Segment without
// allocating. Use one per goroutine.
type Decoder struct {
	issue DecodeIssue
}

// Issue returns why the last Decode did not return VerdictTCP.
func (d *Decoder) Issue() DecodeIssue { return d.issue }

// Decode decodes p into seg (overwriting it) and says what it found.
func (d *Decoder) Decode(p *Packet, seg *Segment) Verdict {
	panic("not implemented")
}
