package rules

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
)

// FuzzEvaluate runs every rule over flows built from arbitrary segments:
// no rule may panic, and every finding must be well formed and within its
// rule's severity.
func FuzzEvaluate(f *testing.F) {
	f.Add(bytes.Repeat([]byte("\x06\x02\x00\x00\x03\xe8\x00\x00\x00\x00\xfa\xf0\x00\x40\x03\x03\x07\x08\x0a\x00"), 3))
	f.Add(make([]byte, 200))
	f.Fuzz(func(t *testing.T, data []byte) {
		var flows []analyze.Flow
		a := analyze.New(analyze.Config{MaxFlows: 4, Linger: time.Second}, func(fl *analyze.Flow) { flows = append(flows, *fl) })
		ends := [...]netip.AddrPort{
			netip.MustParseAddrPort("10.0.0.1:3389"), netip.MustParseAddrPort("10.0.0.2:50000"),
			netip.MustParseAddrPort("[2001:db8::3]:445"), netip.MustParseAddrPort("[2001:db8::4]:50001"),
		}
		// Each segment takes 20 bytes: selector, flags, seq, ack, window,
		// payload, TTL, time step, then 6 option bytes.
		for n := uint64(1); len(data) >= 20; n++ {
			b := data[:20]
			data = data[20:]
			src, dst := ends[b[0]&3], ends[(b[0]>>2)&3]
			seg := capture.Segment{
				Packet: n, Time: int64(n)*int64(time.Millisecond) + int64(b[14])*int64(100*time.Millisecond),
				Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(),
				Flags: capture.Flags(b[1]), Seq: capture.Seq(binary.BigEndian.Uint32(b[2:])),
				Ack: capture.Seq(binary.BigEndian.Uint32(b[6:])), Window: binary.BigEndian.Uint16(b[10:]),
				Payload: int(b[12]) * 23, TTL: b[13],
			}
			capture.ParseOptions(b[14:20], 6, &seg.Opts)
			if b[0]&0x10 != 0 {
				seg.Opts.Has |= capture.HasTimestamp
				seg.Opts.TSVal, seg.Opts.TSEcr = uint32(b[15])<<24|uint32(n), uint32(b[16])<<24
			}
			a.Add(&seg)
		}
		a.Flush()
		for i := range flows {
			for _, x := range Evaluate(&flows[i]) {
				r := Lookup(x.ID)
				require.NotNil(t, r, x.ID)
				assert.LessOrEqual(t, x.Severity, r.Severity, x.ID)
				assert.NotEmpty(t, x.Summary, x.ID)
				assert.NotEmpty(t, x.Why, x.ID)
				assert.NotEmpty(t, x.Advice, x.ID)
				assert.NotEqual(t, Proven, x.Confidence, "%s: proven is for captures at both ends", x.ID)
			}
		}
	})
}

// FuzzParsePolicy feeds arbitrary bytes to the policy parser: it must
// return a policy or an error wrapping ErrPolicy, never panic, and a policy
// it accepts must judge a capture.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(`{"fail_on": "warn", "rules": {"zero-window": {"fail_on": "error"}}, "ignore": ["mss-clamped"]}`))
	f.Add([]byte(`{"min_rwin": 65536, "ports": {"3389": {"negotiate": ["scaling"], "min_rwin": 131072}}}`))
	f.Add([]byte(`{"expect": [{"captures": "captures/**/*.pcap", "require": ["syn-proxy", "min-rwin"], "forbid": ["negotiate"]}]}`))
	f.Add([]byte(`{"expect": [{"captures": "[", "require": ["x"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(bytes.NewReader(data), "/fx")
		if err != nil {
			require.ErrorIs(t, err, ErrPolicy)
			require.False(t, strings.Contains(err.Error(), "\n"), "one line: %q", err)
			return
		}
		j := p.Start("/fx/captures/a.pcap")
		fl := analyze.Flow{}
		j.Add(&fl, []Finding{{ID: "zero-window", Severity: Warn, Confidence: High}})
		_ = j.Done()
		_ = p.Unmatched([]string{"/fx/captures/a.pcap"})
	})
}
