package analyze_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
	"rwin/capture/capturetest"
	"rwin/fixtures"
)

// flowsOf analyzes a capture file and returns its flows.
func flowsOf(t *testing.T, path string) []analyze.Flow {
	t.Helper()
	src, err := capture.Open(path)
	require.NoError(t, err)
	defer src.Close()
	var flows []analyze.Flow
	sum := analyze.Run(src, nil, analyze.Config{}, func(f *analyze.Flow) { flows = append(flows, *f) })
	require.NoError(t, sum.Err)
	require.NotEmpty(t, flows)
	return flows
}

// TestSimplePacketBlocksGiveNoTiming: packets a pcapng file holds as Simple
// Packet Blocks carry no timestamp, so they give a flow no duration, no
// RTT sample and no rate; the timed packets around them still do.
func TestSimplePacketBlocksGiveNoTiming(t *testing.T) {
	orig := filepath.Join(fixtures.Dir(), "captures/lab/rdp-clean/client.pcap")
	timed := flowsOf(t, orig)
	require.Len(t, timed, 1)
	require.Positive(t, timed[0].Client.RTT.Samples+timed[0].Server.RTT.Samples, "the timed capture gives RTT samples")
	require.Positive(t, timed[0].ServerRTT)
	require.True(t, timed[0].Timed)
	_, ok := timed[0].Server.DataSpan()
	require.True(t, ok, "the timed capture gives the server a data span")

	t.Run("every packet a simple packet block: no duration, no rtt, no rate", func(t *testing.T) {
		path, _ := capturetest.Pcapng(t, orig, func(int) bool { return true })
		for _, f := range flowsOf(t, path) {
			assert.False(t, f.Timed, "no packet had a timestamp: start and duration unknown")
			assert.Zero(t, f.End-f.Start, "duration")
			assert.Zero(t, f.ServerRTT)
			assert.Zero(t, f.ClientRTT)
			assert.Zero(t, f.Client.RTT.Samples+f.Server.RTT.Samples, "RTT samples")
			assert.Zero(t, f.Client.MaxStall+f.Server.MaxStall, "stalls")
			for _, e := range []analyze.Endpoint{f.Client, f.Server} {
				assert.Equal(t, e.DataPackets, uint64(e.UntimedData))
				_, ok := e.DataSpan()
				assert.False(t, ok, "no data span, so no rate")
			}
		}
	})
	t.Run("handshake as simple packet blocks, then timed: the span starts at the first timed packet", func(t *testing.T) {
		// Packets 1 and 2 are ARP; 3 to 5 the SYN, SYN-ACK and ACK.
		path, times := capturetest.Pcapng(t, orig, func(n int) bool { return n <= 5 })
		f := flowsOf(t, path)[0]
		assert.True(t, f.Timed)
		assert.Equal(t, times[6], f.Start, "not 0, the time an untimed packet borrows before any timed one")
		assert.Equal(t, timed[0].End, f.End)
		assert.Zero(t, f.ServerRTT, "the SYN and SYN-ACK had no timestamp")
		assert.Zero(t, f.ClientRTT)
	})
	t.Run("every third packet a simple packet block: fewer rtt samples, no rate where data was untimed", func(t *testing.T) {
		path, times := capturetest.Pcapng(t, orig, func(n int) bool { return n%3 == 0 })
		f := flowsOf(t, path)[0]
		assert.Less(t, f.Client.RTT.Samples+f.Server.RTT.Samples, timed[0].Client.RTT.Samples+timed[0].Server.RTT.Samples)
		assert.GreaterOrEqual(t, f.Client.RTT.Min, timed[0].Client.RTT.Min, "no sample shorter than a timed one: none from a borrowed time")
		assert.Positive(t, f.Server.UntimedData)
		_, ok := f.Server.DataSpan()
		assert.False(t, ok)
		assert.Equal(t, times[4], f.Start, "the SYN (packet 3) had no timestamp: the flow starts at its SYN-ACK")
		assert.Zero(t, f.ServerRTT, "the SYN had no timestamp")
		assert.Positive(t, f.ClientRTT, "the SYN-ACK and the ACK had theirs")
	})
}
