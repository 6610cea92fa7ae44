package pathdiff

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/fixtures"
)

// reorderHandshake copies a capture with its first SYN-ACK written before
// the SYN it answers, stamped with the SYN's time: what capturing on
// several NIC queues or with -i any can record.
func reorderHandshake(t *testing.T, in, out string) {
	t.Helper()
	f, err := os.Open(in)
	require.NoError(t, err)
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	require.NoError(t, err)
	type rec struct {
		ci   gopacket.CaptureInfo
		data []byte
	}
	var recs []rec
	syn, synack := -1, -1
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if tcp, ok := gopacket.NewPacket(data, r.LinkType(), gopacket.Default).Layer(layers.LayerTypeTCP).(*layers.TCP); ok && tcp.SYN {
			switch {
			case !tcp.ACK && syn < 0:
				syn = len(recs)
			case tcp.ACK && synack < 0:
				synack = len(recs)
			}
		}
		recs = append(recs, rec{ci, data})
	}
	require.True(t, syn >= 0 && synack > syn, "a SYN, then its SYN-ACK")
	recs[synack].ci.Timestamp = recs[syn].ci.Timestamp
	recs[syn], recs[synack] = recs[synack], recs[syn]
	o, err := os.Create(out)
	require.NoError(t, err)
	defer o.Close()
	w := pcapgo.NewWriterNanos(o)
	require.NoError(t, w.WriteFileHeader(65535, r.LinkType()))
	for _, x := range recs {
		require.NoError(t, w.WritePacket(x.ci, x.data))
	}
}

func TestDiffPairsAFlowWhoseSYNACKWasCapturedFirst(t *testing.T) {
	dir := filepath.Join(fixtures.Dir(), "captures", "lab", "rdp-clean")
	client, server := filepath.Join(dir, "client.pcap"), filepath.Join(dir, "server.pcap")
	if _, err := os.Stat(client); err != nil {
		fixtures.SkipUnlessCI(t, "lab capture missing: %v", err)
	}
	reordered := filepath.Join(t.TempDir(), "client-reordered.pcap")
	reorderHandshake(t, client, reordered)

	want := onlyPair(t, diffFiles(t, client, server))
	res := diffFiles(t, reordered, server)
	got := onlyPair(t, res)
	f := &res.Sides[0].Flows[got.A]
	assert.Equal(t, analyze.HandshakeComplete, f.Handshake, "the handshake is whole again")
	assert.Equal(t, analyze.RoleFromSYN, f.Roles)
	assert.Equal(t, want.Confidence, got.Confidence)
	assert.Equal(t, want.Swapped, got.Swapped)
	assert.Equal(t, want.ClientSide, got.ClientSide)
	assert.Equal(t, want.NAT, got.NAT)
}
