package pathdiff

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/fixtures"
)

// TestDiffPairsEveryLabScenario diffs the two ends of every lab
// recording: the one connection must pair with high confidence, with the
// client's end recognized as such, and every segment of a direction must
// match unless the scenario's path drops it.
func TestDiffPairsEveryLabScenario(t *testing.T) {
	for _, dir := range fixtures.LabScenarios(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			res := diffFiles(t, filepath.Join(dir, "client.pcap"), filepath.Join(dir, "server.pcap"))
			p := onlyPair(t, res)
			assert.Equal(t, analyze.PairHigh, p.Confidence, "score %.3f %v", p.Score, p.Signals)
			assert.Equal(t, analyze.CaptureA, p.ClientSide, "client.pcap is the client's end")
			assert.Equal(t, 1, res.ClockPairs)
			assert.InDelta(t, 0, float64(res.ClockOffset), 2e6, "both ends share one clock in the lab")
			for d := range 2 {
				dd := &p.Dirs[d]
				assert.True(t, dd.Compared)
				assert.NotZero(t, dd.Matched)
				assert.Zero(t, dd.Overflow)
				assert.True(t, dd.HopsOK)
				assert.Equal(t, 2, dd.Hops, "the path namespace forwards through two routing steps")
			}
		})
	}
}

// TestDiffUnrelatedLabScenarios diffs the client's end of each lab
// recording with the ends of another: the same addresses, ports and
// content, but another connection. Nothing may pair above low confidence.
func TestDiffUnrelatedLabScenarios(t *testing.T) {
	dirs := fixtures.LabScenarios(t)
	for i, x := range dirs {
		y := dirs[(i+1)%len(dirs)]
		if x == y {
			continue
		}
		for _, end := range []string{"client.pcap", "server.pcap"} {
			t.Run(filepath.Base(x)+" vs "+filepath.Base(y)+" "+end, func(t *testing.T) {
				res := diffFiles(t, filepath.Join(x, "client.pcap"), filepath.Join(y, end))
				for _, p := range res.Pairs {
					assert.Equal(t, analyze.PairLow, p.Confidence, "score %.3f %v", p.Score, p.Signals)
				}
			})
		}
	}
}

// TestDiffLabUnscaledFirewallNextToTheSender diffs the recording whose
// client locks its receive buffer at 128 KiB (shift 2), so its window
// field holds dozens of full-size segments. The lab's firewall sits next
// to the server and sees the client's ACKs half a round trip after the
// client's capture does: data ending between the edge the server's capture
// had seen and the one the client's had announced is dropped or not by
// when the ACKs reach it, and must count neither as within the edge nor as
// beyond it.
func TestDiffLabUnscaledFirewallNextToTheSender(t *testing.T) {
	dir := filepath.Join(fixtures.Dir(), "captures", "lab", "fw-unscaled-window-2seg")
	if _, err := os.Stat(filepath.Join(dir, "server.pcap")); err != nil {
		fixtures.SkipUnlessCI(t, "lab recording fw-unscaled-window-2seg is missing: %v", err)
	}
	res := diffFiles(t, filepath.Join(dir, "client.pcap"), filepath.Join(dir, "server.pcap"))
	dd := &onlyPair(t, res).Dirs[analyze.ServerToClient]
	u := dd.Unscaled
	require.Equal(t, analyze.CaptureB, dd.Upstream)
	assert.Zero(t, u.WithinLost, "the firewall drops nothing within the edge it had seen")
	assert.NotZero(t, u.WithinSent)
	assert.GreaterOrEqual(t, u.BeyondLost, uint64(2))
	assert.Equal(t, u.BeyondSent, u.BeyondLost, "nothing past both edges arrives")
	assert.NotZero(t, u.BetweenSent, "the client's ACKs in flight moved the edge under some segments")
	assert.Equal(t, dd.OnlyData[analyze.CaptureB], u.BeyondLost+u.BetweenLost, "every lost segment ended past the edge the server had seen")
	assert.GreaterOrEqual(t, u.MaxWithinDelivered, u.MinBeyondLost, "full-size segments arrived within the edge")
	assert.Equal(t, 1448, u.MaxWithinDelivered)
}
