package pathdiff

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
)

// crowdedConns are n small connections that share everything a pairing
// joins on but one thing: with sameTuple one 4-tuple (reused one after the
// other, each with its own ISN), otherwise one client ISN over many ports;
// timestamps, IP IDs and payloads are the same in all of them.
func crowdedConns(n int, sameTuple bool) ([]synthConn, []synthPath) {
	conns := make([]synthConn, n)
	paths := make([]synthPath, n)
	for i := range conns {
		c := baseConn()
		c.request, c.response = 100, 1000
		c.start = time.Duration(i) * 50 * time.Millisecond
		if sameTuple {
			c.isnC = uint32(1_000_000 + 7919*i)
			c.isnS = uint32(3_000_000_000 + 104729*i)
		} else {
			c.client = netip.AddrPortFrom(c.client.Addr(), uint16(10_000+i))
		}
		conns[i], paths[i] = c, basePath()
	}
	return conns, paths
}

// TestDiffOfCrowdedCapturesIsFastAndPairsEveryFlow: thousands of flows
// sharing one 4-tuple or one ISN (port reuse, a crafted or broken stack)
// made every pair of them a candidate: 2,500 flows took 21 s and 1.7 GB.
// Every join is bounded now; each flow still pairs with its own copy.
func TestDiffOfCrowdedCapturesIsFastAndPairsEveryFlow(t *testing.T) {
	for _, c := range []struct {
		name      string
		n         int
		sameTuple bool
	}{
		{"3000 connections on one 4-tuple", 3000, true},
		{"3000 connections with one ISN", 3000, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			conns, paths := crowdedConns(c.n, c.sameTuple)
			a, b := writeSynth(t, t.TempDir(), conns, paths)
			start := time.Now()
			res := diffFiles(t, a, b)
			took := time.Since(start)
			assert.Less(t, took, 20*time.Second)
			require.Len(t, res.Sides[0].Flows, c.n)
			require.Len(t, res.Pairs, c.n, "every flow paired")
			wrong := 0
			for _, p := range res.Pairs {
				if res.Sides[0].Flows[p.A].Start/int64(time.Millisecond) != res.Sides[1].Flows[p.B].Start/int64(time.Millisecond)-10 {
					wrong++
				}
			}
			assert.Zero(t, wrong, "pairs with a flow that started at another time")
			t.Logf("%s: %v", c.name, took)
		})
	}
}

// TestCaptureDiffedWithItselfPairsAtHighConfidence: the same capture at
// both ends is the surest pairing there is.
func TestCaptureDiffedWithItselfPairsAtHighConfidence(t *testing.T) {
	for _, c := range []struct {
		name      string
		sameTuple bool
	}{{"one 4-tuple", true}, {"one ISN", false}} {
		t.Run(c.name, func(t *testing.T) {
			conns, paths := crowdedConns(500, c.sameTuple)
			a, _ := writeSynth(t, t.TempDir(), conns, paths)
			res := diffFiles(t, a, a)
			require.Len(t, res.Pairs, 500)
			low := map[string]int{}
			for _, p := range res.Pairs {
				assert.Equal(t, p.A, p.B)
				if p.Confidence != analyze.PairHigh {
					low[fmt.Sprint(p.Confidence)]++
				}
			}
			assert.Empty(t, low, "pairs below high confidence")
		})
	}
}
