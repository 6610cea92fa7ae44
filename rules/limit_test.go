package rules

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"rwin/analyze"
)

// transferFlow builds a server-to-client transfer against a client window
// of 64 KiB (raw 512, shift 7) over a 40 ms handshake RTT: ceiling 13.1
// Mbit/s. TTLs place the capture next to the client, or next to the server
// (the sender).
func transferFlow(nearSender bool, rate float64, retrans uint64, atWindow uint64, inFlight uint32) *analyze.Flow {
	synTTL, ackTTL := uint8(64), uint8(60)
	if nearSender {
		synTTL, ackTTL = 60, 64
	}
	f := handBuilt(linuxSYN, 7, synTTL, linuxSYN, 7, ackTTL)
	f.Negotiated.Scaling = analyze.Yes
	f.Client.Shift = analyze.Shift{Basis: analyze.BasisNegotiated, Value: 7}
	f.Server.Shift = analyze.Shift{Basis: analyze.BasisNegotiated, Value: 7}
	f.Client.Window.Samples, f.Client.Window.Max, f.Client.Window.Median = 500, 512, 512
	s := &f.Server
	span := 10 * time.Second
	s.DataPackets, s.RetransPackets, s.AtWindowPackets, s.MaxInFlight = 1000, retrans, atWindow, inFlight
	s.FirstData, s.LastData = int64(time.Second), int64(time.Second+span)
	s.UniqueBytes = uint64(rate / 8 * span.Seconds())
	return f
}

func TestWhichLimitHoldsTheTransfer(t *testing.T) {
	tests := []struct {
		name     string
		f        *analyze.Flow
		want     string // the rule that reports the transfer, "" for none
		severity Severity
	}{
		{"held at the window: 90 % of the ceiling, 60 % of segments at the window",
			transferFlow(true, 11.8e6, 0, 600, 65536), "window-limited", Warn},
		{"10 % loss: the Mathis ceiling (1.1 Mbit/s) holds it, not the window",
			transferFlow(false, 1.0e6, 100, 0, 65536), "loss-limited", Warn},
		{"a rate that needs less than one segment of window per round trip",
			transferFlow(false, 0.2e6, 0, 0, 65536), "", 0},
		{"next to the sender, no segment ever came near the window",
			transferFlow(true, 11.8e6, 0, 0, 8000), "", 0},
		{"loss, but the flow runs far below both ceilings: neither holds it",
			transferFlow(false, 0.1e6, 100, 0, 65536), "", 0},
		// One retransmission in 1000 puts the Mathis ceiling (11.3 Mbit/s)
		// just under the window's (13.1 Mbit/s), where the flow runs. Next
		// to the sender, 90 % of its segments sat at the window: the
		// window held it (as the sending kernel's tcpi_rwnd_limited says
		// of such lab transfers), and the loss model does not apply.
		{"a stray loss, but next to the sender 90 % of segments sat at the window",
			transferFlow(true, 11.8e6, 1, 900, 65536), "window-limited", Warn},
		{"the same loss, seen away from the sender (no bytes in flight): the Mathis ceiling holds it",
			transferFlow(false, 11.8e6, 1, 0, 65536), "loss-limited", Warn},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wl, ll := only(t, "window-limited", tc.f), only(t, "loss-limited", tc.f)
			switch tc.want {
			case "window-limited":
				assert.Len(t, wl, 1)
				assert.Empty(t, ll)
			case "loss-limited":
				assert.Empty(t, wl, "not window-limited when loss holds the flow")
				if assert.Len(t, ll, 1) {
					assert.Equal(t, tc.severity, ll[0].Severity)
					assert.Contains(t, ll[0].Summary, "held by loss, not by the window")
				}
			default:
				assert.Empty(t, wl)
				assert.Empty(t, ll)
			}
		})
	}
}
