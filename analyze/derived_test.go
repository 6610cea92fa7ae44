package analyze

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// derivedFlow is a flow with a 100 ms handshake RTT whose client sent
// 1 MB over the span given and whose server advertised a median window
// field of 1,000 with the shift given.
func derivedFlow(span time.Duration, serverShift Shift) Flow {
	f := Flow{ServerRTT: 60 * time.Millisecond, ClientRTT: 40 * time.Millisecond}
	f.Client.DataPackets, f.Client.UniqueBytes = 100, 1_000_000
	f.Client.FirstData, f.Client.LastData = int64(time.Second), int64(time.Second+span)
	f.Server.Window = WindowStats{Samples: 10, Min: 1000, Median: 1000, Max: 1000}
	f.Server.Shift = serverShift
	return f
}

func TestDerivedNumbers(t *testing.T) {
	negotiated := Shift{Basis: BasisNegotiated, Value: 7}
	tests := []struct {
		name          string
		flow          Flow
		rate          float64 // 0: unknown
		goodput       float64 // 0: unknown
		ceiling       float64 // 0: unknown
		window        uint64  // the server's median effective window, 0: unknown
		singleFlight  bool
		untimedClient bool
	}{
		{"a 2 s transfer against a negotiated window", derivedFlow(2*time.Second, negotiated),
			4e6, 4e6, 1000 << 7 * 8 / 0.1, 1000 << 7, false, false},
		{"a burst within two round trips: a rate, no goodput", derivedFlow(150*time.Millisecond, negotiated),
			1e6 * 8 / 0.15, 0, 1000 << 7 * 8 / 0.1, 1000 << 7, true, false},
		{"data spread over less than a millisecond has no rate", derivedFlow(500*time.Microsecond, negotiated),
			0, 0, 1000 << 7 * 8 / 0.1, 1000 << 7, true, false},
		{"an untimed data segment: no rate", derivedFlow(2*time.Second, negotiated),
			0, 0, 1000 << 7 * 8 / 0.1, 1000 << 7, false, true},
		{"an inferred shift gives a window (a lower bound), no ceiling", derivedFlow(2*time.Second, Shift{Basis: BasisInferred, Value: 3}),
			4e6, 4e6, 0, 1000 << 3, false, false},
		{"an unknown shift: no window, no ceiling", derivedFlow(2*time.Second, Shift{}),
			4e6, 4e6, 0, 0, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.flow
			if tc.untimedClient {
				f.Client.UntimedData = 1
			}
			check := func(what string, want float64, got float64, ok bool) {
				t.Helper()
				if want == 0 {
					assert.False(t, ok, what+" unknown")
					return
				}
				if assert.True(t, ok, what+" known") {
					assert.InDelta(t, want, got, want*1e-9, what)
				}
			}
			rate, ok := f.Client.Rate()
			check("rate", tc.rate, rate, ok)
			goodput, ok := f.Goodput(&f.Client)
			check("goodput", tc.goodput, goodput, ok)
			ceiling, ok := f.Ceiling(&f.Client)
			check("ceiling", tc.ceiling, ceiling, ok)
			win, ok := f.Server.MedianWindow()
			check("window", float64(tc.window), float64(win), ok)
			assert.Equal(t, tc.singleFlight, f.SingleFlight(&f.Client))
		})
	}
}

func TestNoWindowNoCeiling(t *testing.T) {
	f := derivedFlow(2*time.Second, Shift{Basis: BasisNegotiated, Value: 7})
	f.Server.Window = WindowStats{}
	_, ok := f.Server.MedianWindow()
	assert.False(t, ok, "no window advertised")
	_, ok = f.Ceiling(&f.Client)
	assert.False(t, ok)
	f = derivedFlow(2*time.Second, Shift{Basis: BasisNegotiated, Value: 7})
	f.ServerRTT = 0
	_, ok = f.Ceiling(&f.Client)
	assert.False(t, ok, "no RTT")
}
