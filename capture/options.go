package capture

import (
	"fmt"
	"strconv"
	"strings"
)

// TCP option kinds (IANA "TCP Option Kind Numbers").
const (
	OptKindEOL       = 0  // end of option list, RFC 9293
	OptKindNOP       = 1  // no-operation, RFC 9293
	OptKindMSS       = 2  // maximum segment size, RFC 9293 §3.7.1
	OptKindWScale    = 3  // window scale, RFC 7323 §2
	OptKindSACKPerm  = 4  // SACK permitted, RFC 2018
	OptKindSACK      = 5  // SACK blocks, RFC 2018
	OptKindTimestamp = 8  // timestamps, RFC 7323 §3
	OptKindMD5       = 19 // TCP MD5 signature, RFC 2385
	OptKindAO        = 29 // TCP authentication option, RFC 5925
	OptKindMPTCP     = 30 // multipath TCP, RFC 8684
	OptKindFastOpen  = 34 // TCP fast open cookie, RFC 7413
)

// MaxShift is the largest window-scale shift RFC 7323 §2.3 allows; a larger
// announced value is used as 14.
const MaxShift Shift = 14

// Shift is a window-scale shift count as carried in the option (0–255 on the
// wire). It is a count of bits, not a window: apply it with Scale.
type Shift uint8

// Effective returns the shift a conforming receiver applies: values above 14
// are treated as 14 (RFC 7323 §2.3).
func (s Shift) Effective() Shift { return min(s, MaxShift) }

// Scale returns the window field shifted by the effective shift.
func (s Shift) Scale(window uint16) uint32 { return uint32(window) << s.Effective() }

// OptSet records which options a segment carried, one bit per option.
type OptSet uint16

// Bits of OptSet.
const (
	HasMSS OptSet = 1 << iota
	HasWScale
	HasSACKPerm
	HasSACK
	HasTimestamp
	HasMD5
	HasAO
	HasMPTCP
	HasFastOpen
	HasOther // an option kind not listed above
)

// SACKBlock is one SACK edge pair: bytes [Left, Right) were received
// (RFC 2018 §3).
type SACKBlock struct{ Left, Right Seq }

// MaxSACKBlocks is the most SACK blocks that fit in 40 option bytes.
const MaxSACKBlocks = 4

// OptProblem says what was wrong with an option.
type OptProblem uint8

// Problems the option parser records. They are facts for the rules, not
// parse failures: the options before the problem stay valid.
const (
	OptOK           OptProblem = iota
	OptBadLength               // length byte below 2, or wrong for the kind (e.g. WS length ≠ 3)
	OptPastHeader              // length runs past the end of the TCP header
	OptNoLengthByte            // the kind byte is the last byte of the header
)

func (p OptProblem) String() string {
	switch p {
	case OptOK:
		return "ok"
	case OptBadLength:
		return "bad length"
	case OptPastHeader:
		return "runs past the TCP header"
	case OptNoLengthByte:
		return "missing length byte"
	}
	return "problem " + strconv.Itoa(int(p))
}

// OptIssue locates the first malformed option of a segment.
type OptIssue struct {
	Problem OptProblem
	Kind    uint8 // option kind at fault
	Offset  uint8 // byte offset of the option within the option area
	Length  uint8 // the length byte as found (0 when missing)
}

func (i OptIssue) String() string {
	return fmt.Sprintf("option kind %d at offset %d (length %d): %s", i.Kind, i.Offset, i.Length, i.Problem)
}

// MaxOptionBytes is the size of the largest TCP option area (60 − 20).
const MaxOptionBytes = 40

// Layout is the ordered list of option kinds a segment carried, including
// NOP and EOL, as a p0f-style signature source. It is a fixed array so a
// Segment needs no allocation.
type Layout struct {
	kinds [MaxOptionBytes]uint8
	n     uint8
}

// Len returns how many options the layout holds.
func (l *Layout) Len() int { return int(l.n) }

// Kind returns the i-th option kind.
func (l *Layout) Kind(i int) uint8 { return l.kinds[i] }

// Is reports whether the layout is exactly kinds, in order.
func (l *Layout) Is(kinds ...uint8) bool {
	return string(l.kinds[:l.n]) == string(kinds)
}

func (l *Layout) push(kind uint8) {
	if int(l.n) < len(l.kinds) {
		l.kinds[l.n] = kind
		l.n++
	}
}

// String renders the layout p0f-style: "mss,sok,ts,nop,ws"; unknown kinds
// appear as "?N". An empty layout renders as "".
func (l Layout) String() string {
	var b strings.Builder
	for i := 0; i < int(l.n); i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(OptKindName(l.kinds[i]))
	}
	return b.String()
}

// OptKindName returns the p0f-style short name of an option kind.
func OptKindName(kind uint8) string {
	switch kind {
	case OptKindEOL:
		return "eol"
	case OptKindNOP:
		return "nop"
	case OptKindMSS:
		return "mss"
	case OptKindWScale:
		return "ws"
	case OptKindSACKPerm:
		return "sok"
	case OptKindSACK:
		return "sack"
	case OptKindTimestamp:
		return "ts"
	case OptKindMD5:
		return "md5"
	case OptKindAO:
		return "ao"
	case OptKindMPTCP:
		return "mptcp"
	case OptKindFastOpen:
		return "tfo"
	}
	return "?" + strconv.Itoa(int(kind))
}

// Options are the TCP options of one segment. Each value field is valid only
// when its bit is set in Has: an absent option is never reported as zero.
type Options struct {
	// What every segment's analysis reads comes first (see Segment).
	Has OptSet
	// MSS is the maximum segment size (valid with HasMSS).
	MSS uint16
	// WScale is the announced shift as on the wire (valid with HasWScale).
	WScale Shift
	// Issue is the first malformed option; Issue.Problem is OptOK when the
	// option area parsed cleanly.
	Issue OptIssue
	// Truncated is true when the capture cut the option area short; the
	// options listed are those wholly captured.
	Truncated bool
	NSACK     uint8
	// TSVal and TSEcr are the timestamp values (valid with HasTimestamp).
	TSVal, TSEcr uint32
	// SACK holds the first NSACK blocks (valid with HasSACK).
	SACK [MaxSACKBlocks]SACKBlock
	// Layout lists every option kind in wire order.
	Layout Layout
}

// Carries reports whether the segment carried any of the options in x.
func (o *Options) Carries(x OptSet) bool { return o.Has&x != 0 }

// ParseOptions parses a TCP option area into o, overwriting it. b is the
// captured part of the area and hdrLen its full length per the data offset
// field (len(b) < hdrLen means the snaplen cut it). Malformed options are
// recorded in o.Issue; parsing goes on past an option whose length is wrong
// for its kind, and stops where the length byte cannot frame the option. It
// never allocates.
func ParseOptions(b []byte, hdrLen int, o *Options) {
	*o = Options{}
	parseOptions(b, hdrLen, o)
}

// timestampsOnly is the option area of nearly every segment after the
// handshake from Linux, the BSDs and macOS: NOP, NOP, timestamps (the
// layout RFC 7323 Appendix A suggests).
var timestampsOnly = [4]byte{OptKindNOP, OptKindNOP, OptKindTimestamp, 10}

// parseOptions is ParseOptions into zeroed options.
func parseOptions(b []byte, hdrLen int, o *Options) {
	if hdrLen == 12 && len(b) >= 12 && [4]byte(b) == timestampsOnly {
		// The general loop below finds the same in twice the time
		// (BenchmarkParseOptions), and this is most segments.
		o.Has = HasTimestamp
		o.TSVal, o.TSEcr = be32(b[4:]), be32(b[8:])
		o.Layout.kinds[0], o.Layout.kinds[1], o.Layout.kinds[2], o.Layout.n = OptKindNOP, OptKindNOP, OptKindTimestamp, 3
		return
	}
	parseOptionList(b, hdrLen, o)
}

// parseOptionList is parseOptions for any option area, option by option.
func parseOptionList(b []byte, hdrLen int, o *Options) {
	if len(b) < hdrLen {
		o.Truncated = true
	} else {
		b = b[:hdrLen]
	}
	for i := 0; i < len(b); {
		kind := b[i]
		switch kind {
		case OptKindEOL:
			o.Layout.push(kind)
			return
		case OptKindNOP:
			o.Layout.push(kind)
			i++
			continue
		}
		// An option the snaplen cut stays out of the layout, which lists
		// only wholly captured options; one that is malformed on the wire
		// goes in, since that is what the sender put there.
		if i+1 >= len(b) {
			if i+1 < hdrLen {
				o.Truncated = true // length byte is past the snaplen
				return
			}
			o.Layout.push(kind)
			o.Issue = OptIssue{Problem: OptNoLengthByte, Kind: kind, Offset: uint8(i)}
			return
		}
		l := int(b[i+1])
		if l < 2 {
			o.Layout.push(kind)
			o.Issue = OptIssue{Problem: OptBadLength, Kind: kind, Offset: uint8(i), Length: uint8(l)}
			return
		}
		if i+l > len(b) {
			if i+l <= hdrLen {
				o.Truncated = true // the option is whole on the wire, cut in the capture
				return
			}
			o.Layout.push(kind)
			o.Issue = OptIssue{Problem: OptPastHeader, Kind: kind, Offset: uint8(i), Length: uint8(l)}
			return
		}
		o.Layout.push(kind)
		v := b[i+2 : i+l]
		bad := false
		switch kind {
		case OptKindMSS:
			if bad = l != 4; !bad {
				o.Has |= HasMSS
				o.MSS = uint16(v[0])<<8 | uint16(v[1])
			}
		case OptKindWScale:
			if bad = l != 3; !bad {
				o.Has |= HasWScale
				o.WScale = Shift(v[0])
			}
		case OptKindSACKPerm:
			if bad = l != 2; !bad {
				o.Has |= HasSACKPerm
			}
		case OptKindSACK:
			if bad = (l-2)%8 != 0 || l == 2; !bad {
				o.Has |= HasSACK
				o.NSACK = 0
				for j := 0; j+8 <= len(v) && int(o.NSACK) < MaxSACKBlocks; j += 8 {
					o.SACK[o.NSACK] = SACKBlock{Left: Seq(be32(v[j:])), Right: Seq(be32(v[j+4:]))}
					o.NSACK++
				}
			}
		case OptKindTimestamp:
			if bad = l != 10; !bad {
				o.Has |= HasTimestamp
				o.TSVal, o.TSEcr = be32(v), be32(v[4:])
			}
		case OptKindMD5:
			o.Has |= HasMD5
		case OptKindAO:
			o.Has |= HasAO
		case OptKindMPTCP:
			o.Has |= HasMPTCP
		case OptKindFastOpen:
			o.Has |= HasFastOpen
		default:
			o.Has |= HasOther
		}
		if bad && o.Issue.Problem == OptOK {
			// The length is wrong for the kind but still frames the
			// option, so the options after it can be read.
			o.Issue = OptIssue{Problem: OptBadLength, Kind: kind, Offset: uint8(i), Length: uint8(l)}
		}
		i += l
	}
}

func be32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func be16(b []byte) uint16 {
	_ = b[1]
	return uint16(b[0])<<8 | uint16(b[1])
}
