package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
)

var winLayout = []uint8{mss, nop, ws, nop, nop, sok}

func TestServerThatDeclinesScalingIsNotAMiddlebox(t *testing.T) {
	tests := []struct {
		name            string
		ackKinds        []uint8
		ackTTL          uint8
		conf            Confidence
		who, advice     string
		uniqueBytes     uint64
		sev             Severity
		strippedInstead bool
	}{
		{name: "linux server with tcp_window_scaling=0", ackKinds: []uint8{mss, sok, ts}, ackTTL: 60, conf: Medium,
			who: "net.ipv4.tcp_window_scaling=0", advice: "sysctl net.ipv4.tcp_window_scaling=1", uniqueBytes: 1 << 20, sev: Warn},
		{name: "windows server at auto-tuning level disabled", ackKinds: []uint8{mss, nop, nop, sok}, ackTTL: 126, conf: Medium,
			who: "auto-tuning level disabled", advice: "autotuninglevel=normal", uniqueBytes: 1 << 20, sev: Warn},
		{name: "a short exchange: the 64 KiB cap does not bite", ackKinds: []uint8{mss, sok, ts}, ackTTL: 60, conf: Medium,
			who: "net.ipv4.tcp_window_scaling=0", advice: "tcp_window_scaling", uniqueBytes: 4000, sev: Info},
		{name: "tcpoptstrip nops where the option stood: a device", ackKinds: []uint8{mss, sok, ts, nop, nop, nop}, ackTTL: 60,
			strippedInstead: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := handBuilt(linuxSYN, 7, 64, tc.ackKinds, 0, tc.ackTTL)
			f.Server.UniqueBytes = tc.uniqueBytes
			declined := only(t, "wscale-declined", f)
			if tc.strippedInstead {
				assert.Empty(t, declined)
				assert.Len(t, only(t, "wscale-stripped", f), 1)
				return
			}
			assert.Empty(t, only(t, "wscale-stripped", f), "no evidence of a device")
			require.Len(t, declined, 1)
			assert.Equal(t, tc.sev, declined[0].Severity)
			assert.Equal(t, tc.conf, declined[0].Confidence)
			assert.Contains(t, declined[0].Summary, tc.who)
			assert.Contains(t, declined[0].Advice, tc.advice)
		})
	}
}

func TestWindowsServerAutotuningLevelFromItsSYNACK(t *testing.T) {
	tests := []struct {
		name     string
		ackShift uint8
		level    string
	}{
		{"file server at restricted", 4, "level restricted"},
		{"file server at highly restricted", 2, "level highlyrestricted"},
		{"file server at normal", 8, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := handBuilt(winLayout, 8, 128, winLayout, capture.Shift(tc.ackShift), 126)
			got := only(t, "autotuning-level", f)
			if tc.level == "" {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			assert.Equal(t, analyze.ClientToServer, got[0].Direction, "the server's window limits uploads")
			assert.Contains(t, got[0].Summary, "Windows server at receive window auto-tuning "+tc.level)
			assert.Contains(t, got[0].Summary, "every upload to it is capped")
			assert.Equal(t, uint64(2), got[0].Evidence[0].Packet, "the SYN-ACK")
		})
	}
}
