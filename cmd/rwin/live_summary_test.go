package main

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/cmd/rwin/report"
)

// TestLiveSummaryNamesUnansweredServers checks that the text summary of
// rwin live names the server endpoints whose SYNs nothing answered, as
// rwin read's does: the one line an engineer needs when a service is
// down or filtered.
func TestLiveSummaryNamesUnansweredServers(t *testing.T) {
	var buf bytes.Buffer
	out := newLiveOutput(liveOptions{format: "text", iface: "eth0"}, &buf, false)
	require.NoError(t, out.start())
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	sum := analyze.Summary{Packets: 9, TCP: 9, FirstTime: start, LastTime: start + int64(3*time.Second)}
	sum.Unanswered = analyze.Unanswered{
		Servers: []analyze.UnansweredServer{
			{Server: netip.MustParseAddrPort("10.0.0.5:3389"), Clients: 2, Attempts: 3, SYNs: 7, First: start, Last: start + int64(3*time.Second)},
			{Server: netip.MustParseAddrPort("[2001:db8::9]:445"), Clients: 1, Attempts: 1, SYNs: 2},
		},
		OtherAttempts: 4, OtherSYNs: 5,
	}
	require.NoError(t, out.finish(sum, report.CaptureRecord{Interface: "eth0", Stopped: "interrupt"}))
	assert.Contains(t, buf.String(), "; stopped: interrupt\n"+
		"  SYNs nobody answered: 10.0.0.5:3389 from 2 clients, 7 SYNs in 3 attempts over 3s\n"+
		"  SYNs nobody answered: [2001:db8::9]:445 from 1 client, 2 SYNs in 1 attempt\n"+
		"  4 more unanswered attempts on endpoints past the table's bound (5 SYNs)\n"+
		"total: 0 flows;")
}
