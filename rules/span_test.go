package rules

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
)

// TestUnansweredSYNsOverAnUnknownTime: SYNs without timestamps (pcapng
// Simple Packet Blocks) were sent over a time the capture does not give;
// the finding says so instead of "over 0s".
func TestUnansweredSYNsOverAnUnknownTime(t *testing.T) {
	tests := []struct {
		name  string
		timed bool
		span  time.Duration
		over  string
	}{
		{"timed syns give their span", true, 3 * time.Second, "3 SYN(s) to 192.0.2.9:3389 over 3.0 s"},
		{"untimed syns give none", false, 0, "3 SYN(s) to 192.0.2.9:3389 over an unknown time (no timestamps)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := analyze.Flow{SYNs: 3, Timed: tc.timed, Start: 1e18, End: 1e18 + int64(tc.span)}
			f.SYN.Seen = true
			f.Client.Packets = 3
			f.Server.Addr = netip.MustParseAddrPort("192.0.2.9:3389")
			got := synUnanswered(&f, Lookup("syn-unanswered"))
			require.Len(t, got, 1)
			assert.Contains(t, got[0].Summary, tc.over)
			assert.Contains(t, got[0].Why, "3 SYNs over ")
		})
	}
}
