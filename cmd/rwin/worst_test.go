package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/fixtures"
)

// flowTemplate is the packets of a one-flow Ethernet/IPv4 capture and the
// client's port, to be copied under other client ports.
type flowTemplate struct {
	packets [][]byte
	info    []gopacket.CaptureInfo
	port    uint16
}

func loadTemplate(t *testing.T, name string) flowTemplate {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtures.Dir(), name))
	require.NoError(t, err)
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	require.NoError(t, err)
	require.Equal(t, layers.LinkTypeEthernet, r.LinkType())
	var tpl flowTemplate
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		tpl.packets = append(tpl.packets, data)
		tpl.info = append(tpl.info, ci)
	}
	tpl.port = binary.BigEndian.Uint16(tpl.packets[0][tcpOffset(t, tpl.packets[0]):]) // the SYN's source
	return tpl
}

// tcpOffset is where the TCP header of an Ethernet/IPv4 frame starts.
func tcpOffset(t *testing.T, frame []byte) int {
	require.Equal(t, uint16(0x0800), binary.BigEndian.Uint16(frame[12:14]), "IPv4 over Ethernet")
	return 14 + int(frame[14]&0x0f)*4
}

// write appends a copy of the flow to w, its client port replaced, from
// start on; it returns when the copy ends.
func (tpl flowTemplate) write(t *testing.T, w *pcapgo.Writer, port uint16, start time.Time) time.Time {
	t.Helper()
	end := start
	for i, p := range tpl.packets {
		c := append([]byte(nil), p...)
		tcp := c[tcpOffset(t, c):]
		for _, at := range []int{0, 2} { // source, destination port
			if binary.BigEndian.Uint16(tcp[at:]) == tpl.port {
				binary.BigEndian.PutUint16(tcp[at:], port)
			}
		}
		ci := tpl.info[i]
		ts := start.Add(ci.Timestamp.Sub(tpl.info[0].Timestamp))
		ci.Timestamp = ts
		require.NoError(t, w.WritePacket(ci, c))
		if ts.After(end) {
			end = ts
		}
	}
	return end
}

// TestFlaggedFlowsOnTheFirstScreen: in a capture of 14,000 flows, 14 of
// them held by a firewall that enforces the unscaled window, those 14 are
// on the first screen (24 lines) of rwin read, each with its reason.
func TestFlaggedFlowsOnTheFirstScreen(t *testing.T) {
	clean := loadTemplate(t, "captures/synthetic/format-pcap-le-usec.pcap")
	flagged := loadTemplate(t, "captures/synthetic/unscaled-window-firewall.pcap")
	path := filepath.Join(t.TempDir(), "14000.pcap")
	f, err := os.Create(path)
	require.NoError(t, err)
	w := pcapgo.NewWriter(f)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	const flows, every = 14_000, 1_000
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var want []int
	for i := range flows {
		tpl := clean
		if i%every == every/2 {
			tpl = flagged
			want = append(want, i+1) // flow IDs count from 1 in order of first packet
		}
		at = tpl.write(t, w, uint16(10_000+i), at).Add(time.Millisecond)
	}
	require.NoError(t, f.Close())

	code, stdout, stderr := rwinRun(t, nil, "read", path)
	require.Equal(t, exitOK, code, stderr)
	lines := strings.Split(stdout, "\n")
	require.Greater(t, len(lines), flows)
	assert.Contains(t, lines[0], "14000 flows")
	screen := strings.Join(lines[:24], "\n")
	assert.Contains(t, screen, "worst flows: 14 flows with warn or error findings")
	for _, id := range want {
		assert.Regexp(t, fmt.Sprintf(`(?m)^  %d\s+\S+ → \S+\s+error unscaled-window-enforced: \S`, id), screen, "flow %d", id)
	}
	assert.Regexp(t, `(?m)^total: .*; findings: 14 error, 0 warn, \d+ info \(.*unscaled-window-enforced 14.*\)$`, stdout)
}
