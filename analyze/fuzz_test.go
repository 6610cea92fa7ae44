package analyze

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"rwin/capture"
)

// FuzzAnalyzer feeds arbitrary segment sequences between a few endpoints:
// the analyzer must never panic, must account for every segment in exactly
// one flow, and must keep its table within the cap.
func FuzzAnalyzer(f *testing.F) {
	f.Add([]byte("\x02\x00\x00\x03\xe8\x00\x00\x00\x00\xfa\xf0\x00\x00\x03\x03\x07\x12\x01\x00\x00\x13\x88\x00\x00\x03\xe9\xfe\x48\x00\x00\x03\x03\x07"))
	f.Add(make([]byte, 200))
	f.Fuzz(func(t *testing.T, data []byte) {
		var flows []Flow
		a := New(Config{MaxFlows: 3, Linger: time.Second}, func(fl *Flow) { flows = append(flows, *fl) })
		addrs := [...]struct {
			ip   [4]byte
			port uint16
		}{{[4]byte{10, 0, 0, 1}, 3389}, {[4]byte{10, 0, 0, 2}, 50000}, {[4]byte{10, 0, 0, 3}, 445}, {[4]byte{10, 0, 0, 4}, 50001}}
		var n uint64
		// Each segment takes 16 bytes: selector, flags, seq, ack, window,
		// payload, time step, then up to 3 option bytes framed as WS.
		for len(data) >= 16 {
			b := data[:16]
			data = data[16:]
			n++
			src, dst := addrs[b[0]&3], addrs[(b[0]>>2)&3]
			seg := capture.Segment{
				Packet: n, Time: int64(n)*int64(time.Millisecond) + int64(b[13])*int64(time.Second),
				Src: netipFrom4(src.ip), Dst: netipFrom4(dst.ip), SrcPort: src.port, DstPort: dst.port,
				Flags: capture.Flags(b[1]), Seq: capture.Seq(binary.BigEndian.Uint32(b[2:])),
				Ack: capture.Seq(binary.BigEndian.Uint32(b[6:])), Window: binary.BigEndian.Uint16(b[10:]),
				Payload: int(b[12]) * 11,
			}
			capture.ParseOptions(b[14:16], 2+int(b[0]>>6), &seg.Opts)
			a.Add(&seg)
			require.LessOrEqual(t, a.Live(), 3)
		}
		a.Flush()
		var counted, copies uint64
		for _, fl := range flows {
			counted += fl.Client.Packets + fl.Server.Packets
			copies += fl.Client.Duplicates + fl.Server.Duplicates
			if w := fl.Client.Window; w.Samples > 0 {
				require.True(t, w.Min <= w.P10 && w.P10 <= w.Median && w.Median <= w.P90 && w.P90 <= w.Max,
					"window quantiles ordered within [min, max]: %+v", w)
			}
		}
		require.Equal(t, n, counted+copies, "every segment belongs to exactly one flow, as itself or as a copy")
		require.Equal(t, a.Stats().Duplicates, copies, "every copy counted in its flow")
		require.Equal(t, a.Stats().Flows, uint64(len(flows)))
	})
}

func netipFrom4(b [4]byte) netip.Addr { return netip.AddrFrom4(b) }
