package analyze_test

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
	"rwin/fixtures"
)

// Real captures nobody here wrote, where the capture is messy: handshakes
// out of order or in halves, resets from outside the connection, packets
// recorded twice.

// readFlows analyzes a capture and returns its flows in ID order.
func readFlows(t *testing.T, path string) ([]analyze.Flow, analyze.Summary) {
	t.Helper()
	src, err := capture.Open(path)
	require.NoError(t, err)
	defer src.Close()
	var flows []analyze.Flow
	sum := analyze.Run(src, nil, analyze.Config{}, func(f *analyze.Flow) { flows = append(flows, *f) })
	require.NoError(t, sum.Err)
	slices.SortFunc(flows, func(a, b analyze.Flow) int { return int(a.ID) - int(b.ID) })
	return flows, sum
}

// flowFrom returns the flow whose client has the given port.
func flowFrom(t *testing.T, flows []analyze.Flow, clientPort uint16) *analyze.Flow {
	t.Helper()
	for i := range flows {
		if flows[i].Client.Addr.Port() == clientPort {
			return &flows[i]
		}
	}
	require.Failf(t, "no flow", "no flow from client port %d", clientPort)
	return nil
}

func TestCorpusMessyHandshakes(t *testing.T) {
	dir := fixtures.CorpusDir(t)
	t.Run("synack captured before its syn (arkime tcp_handshake_synthetic, port 40012)", func(t *testing.T) {
		flows, _ := readFlows(t, filepath.Join(dir, "arkime/tcp_handshake_synthetic.pcap"))
		f := flowFrom(t, flows, 40012)
		assert.Equal(t, analyze.HandshakeComplete, f.Handshake)
		assert.Equal(t, analyze.RoleFromSYN, f.Roles)
		assert.True(t, f.AnsweredSYN.Seen)
		assert.Equal(t, analyze.No, f.Negotiated.Scaling, "neither carries window scale")
		assert.Equal(t, analyze.ScalingFromHandshake, f.Negotiated.ScalingFrom)
	})
	t.Run("syn never answered (arkime tcp_handshake_synthetic, port 40013)", func(t *testing.T) {
		flows, _ := readFlows(t, filepath.Join(dir, "arkime/tcp_handshake_synthetic.pcap"))
		f := flowFrom(t, flows, 40013)
		assert.Equal(t, analyze.HandshakeSYNOnly, f.Handshake)
		assert.False(t, f.AnsweredSYN.Seen)
		assert.Equal(t, analyze.Negotiation{}, f.Negotiated, "nothing negotiated: every field unknown, not off")
	})
	for _, tc := range []struct {
		file           string
		serverShift    uint8
		copies, synack uint64
	}{
		{"ndpi/tls_multiple_synack_different_seq.pcapng", 8, 0, 4},
		{"zeek/ctu-64702-888.pcap", 9, 8, 1},
	} {
		t.Run("synack without its syn proves scaling on ("+tc.file+")", func(t *testing.T) {
			flows, _ := readFlows(t, filepath.Join(dir, tc.file))
			require.Len(t, flows, 1)
			f := &flows[0]
			assert.Equal(t, analyze.HandshakeSYNACKOnly, f.Handshake)
			assert.Equal(t, analyze.Yes, f.Negotiated.Scaling, "RFC 7323 §2.2: WS on a SYN-ACK answers WS on the SYN")
			assert.Equal(t, analyze.ScalingFromSYNACK, f.Negotiated.ScalingFrom)
			assert.Equal(t, analyze.BasisNegotiated, f.Server.Shift.Basis)
			assert.Equal(t, tc.serverShift, uint8(f.Server.Shift.Value))
			assert.NotEqual(t, analyze.BasisNegotiated, f.Client.Shift.Basis, "the client's shift is not in the capture")
			assert.Equal(t, tc.copies, f.Client.Duplicates+f.Server.Duplicates)
			assert.Equal(t, int(tc.synack), f.SYNACKs)
		})
	}
	t.Run("reset acknowledging the syn is accepted (suricata with_evasion_windows)", func(t *testing.T) {
		flows, _ := readFlows(t, filepath.Join(dir, "suricata/with_evasion_windows.pcap"))
		require.Len(t, flows, 1)
		assert.Equal(t, uint64(2), flows[0].Server.RSTPacket)
		assert.Equal(t, analyze.Yes, flows[0].Negotiated.Scaling)
	})
	t.Run("reset beyond the receiver's window is ignored (zeek 206_example_b, port 3254)", func(t *testing.T) {
		flows, _ := readFlows(t, filepath.Join(dir, "zeek/206_example_b.pcap"))
		f := flowFrom(t, flows, 3254)
		// The server's reset carries sequence number 3063847327, 123,689
		// bytes past the client's last acknowledgment; the client's window
		// is 65,535 bytes unscaled.
		assert.Zero(t, f.Server.RSTPacket)
		assert.Equal(t, uint64(1), f.Server.IgnoredRSTs)
	})
}

func TestCorpusDuplicatePackets(t *testing.T) {
	dir := fixtures.CorpusDir(t)
	// Counts checked against tshark: frames whose IP ID, ports, raw
	// sequence and acknowledgment numbers, flags, length, window and
	// checksum repeat an earlier frame's (within 1 s with an IP ID, 10 ms
	// without).
	for _, tc := range []struct {
		file            string
		copies, retrans uint64
	}{
		{"zeek/ssh-dups.pcap", 280, 0},
		{"tcpdump/pptp.pcap", 8, 0},
		{"arkime/wireshark-retrans.pcap", 81, 0},
		{"ndpi/psiphon3.pcap", 31, 0},
		{"zeek/vnd.ms-cab-compressed-multi-conn.pcap", 78, 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			flows, sum := readFlows(t, filepath.Join(dir, tc.file))
			var copies, retrans uint64
			for _, f := range flows {
				copies += f.Client.Duplicates + f.Server.Duplicates
				retrans += f.Client.RetransPackets + f.Server.RetransPackets
			}
			assert.Equal(t, tc.copies, copies)
			assert.Equal(t, tc.copies, sum.Analyzer.Duplicates)
			assert.Equal(t, tc.retrans, retrans, "copies are not retransmissions")
		})
	}
}

// figures is what a flow reports, duplicates aside.
type figures struct {
	ID                                  uint64
	Handshake                           analyze.Handshake
	Negotiated                          analyze.Negotiation
	ServerRTT, ClientRTT                time.Duration
	Packets, Bytes, Data, Retrans, Uniq [2]uint64
	InFlight                            [2]uint32
	RTT                                 [2]analyze.RTTStats
	Windows                             [2]uint64
	Shift                               [2]analyze.Shift
}

func figuresOf(f *analyze.Flow) figures {
	x := figures{ID: f.ID, Handshake: f.Handshake, Negotiated: f.Negotiated, ServerRTT: f.ServerRTT, ClientRTT: f.ClientRTT}
	for i, e := range []*analyze.Endpoint{&f.Client, &f.Server} {
		x.Packets[i], x.Bytes[i], x.Data[i], x.Retrans[i], x.Uniq[i] = e.Packets, e.Bytes, e.DataPackets, e.RetransPackets, e.UniqueBytes
		x.InFlight[i], x.RTT[i], x.Windows[i], x.Shift[i] = e.MaxInFlight, e.RTT, e.Window.Samples, e.Shift
	}
	return x
}

func TestCaptureMergedWithItselfGivesTheSameFlows(t *testing.T) {
	mergecap, err := exec.LookPath("mergecap")
	if err != nil {
		fixtures.SkipUnlessCI(t, "mergecap (package wireshark-common, installed with tshark) is not installed")
	}
	dir := fixtures.CorpusDir(t)
	for _, file := range []string{
		filepath.Join(fixtures.Dir(), "captures/lab/rdp-clean/client.pcap"),
		filepath.Join(fixtures.Dir(), "captures/lab/fw-unscaled-window/client.pcap"),
		filepath.Join(dir, "zeek/rdp-proprietary-encryption.pcap"),
		filepath.Join(dir, "suricata/bug-5162__input.pcap"),
		filepath.Join(dir, "tcpdump/ssh.pcap"),
	} {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			merged := filepath.Join(t.TempDir(), "merged.pcap")
			out, err := exec.Command(mergecap, "-F", "pcap", "-w", merged, file, file).CombinedOutput()
			require.NoError(t, err, "%s", out)
			orig, osum := readFlows(t, file)
			twice, msum := readFlows(t, merged)
			require.Equal(t, len(orig), len(twice), "same flows")
			for i := range orig {
				assert.Equal(t, figuresOf(&orig[i]), figuresOf(&twice[i]), "flow %d: same figures", orig[i].ID)
			}
			assert.Equal(t, osum.Analyzer.Duplicates+osum.TCP, msum.Analyzer.Duplicates, "every packet of the original once more")
		})
	}
}
