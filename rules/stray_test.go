package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"rwin/analyze"
)

// TestStraySegmentAfterCleanCloseIsNoUnscaledWindow: one segment 100 KB
// past the client's sequence space, after it closed cleanly, is a stray:
// it must not raise unscaled-window-enforced (an ERROR that fails a CI
// run). The same gap before any FIN is still the finding.
func TestStraySegmentAfterCleanCloseIsNoUnscaledWindow(t *testing.T) {
	flow := func(finPacket uint64) *analyze.Flow {
		f := &analyze.Flow{}
		f.Negotiated.Scaling = analyze.Yes
		f.Client.Shift = analyze.Shift{Value: 7, Basis: analyze.BasisNegotiated}
		f.Server.Shift = analyze.Shift{Value: 7, Basis: analyze.BasisNegotiated}
		f.Server.Window.Samples, f.Server.Window.Max, f.Server.Window.Median = 10, 502, 502
		f.Client.UnseenBytes, f.Client.UnseenPacket = 100_000, 60
		f.Client.FINPacket = finPacket
		return f
	}
	has := func(f *analyze.Flow) bool {
		for _, x := range Evaluate(f) {
			if x.ID == "unscaled-window-enforced" {
				return true
			}
		}
		return false
	}
	assert.False(t, has(flow(40)), "stray segment after the client's FIN")
	assert.True(t, has(flow(0)), "the same gap with no FIN is data that never arrived")
}
