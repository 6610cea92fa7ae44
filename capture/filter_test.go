package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ipTCP is a 40-byte IPv4 header and TCP SYN from 10.0.0.1:40000 to
// 10.0.0.2:dport.
func ipTCP(dport uint16) []byte {
	return []byte{
		0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
		0x9c, 0x40, byte(dport >> 8), byte(dport), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
	}
}

// framed puts an IPv4 packet behind the link header of link.
func framed(link LinkType, ip []byte) []byte {
	var hdr []byte
	switch link {
	case LinkEthernet:
		hdr = []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
	case LinkLinuxSLL2:
		hdr = []byte{0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0}
	case LinkNull:
		hdr = []byte{2, 0, 0, 0} // AF_INET in host (little-endian) order
	}
	return append(hdr, ip...)
}

func packetOf(link LinkType, data []byte) *Packet {
	return &Packet{Data: data, OrigLen: len(data), Link: link}
}

// requirePcap skips a test that needs libpcap in a build that has none
// (CGO_ENABLED=0 on Linux or macOS, Windows without Npcap). A build with
// libpcap never skips here: its failures are failures.
func requirePcap(t testing.TB) {
	t.Helper()
	if _, err := NewFilter("tcp", LinkEthernet, 0); errors.Is(err, ErrNoPcap) {
		t.Skipf("needs libpcap: %v", err)
	}
}

func TestFilterMatch(t *testing.T) {
	requirePcap(t)
	tests := []struct {
		name   string
		expr   string
		packet *Packet
		want   bool
	}{
		{"ethernet syn to the rdp port", "tcp dst port 3389", packetOf(LinkEthernet, framed(LinkEthernet, ipTCP(3389))), true},
		{"ethernet syn to another port", "tcp dst port 3389", packetOf(LinkEthernet, framed(LinkEthernet, ipTCP(445))), false},
		{"syn flag test", "tcp[tcpflags] & tcp-syn != 0", packetOf(LinkEthernet, framed(LinkEthernet, ipTCP(80))), true},
		{"raw ip file link type 101 compiles as DLT_RAW", "host 10.0.0.2 and tcp port 445", packetOf(LinkRaw, ipTCP(445)), true},
		{"linux sll2 beyond gopacket's uint8 link types", "tcp port 445", packetOf(LinkLinuxSLL2, framed(LinkLinuxSLL2, ipTCP(445))), true},
		{"bsd loopback", "ip and tcp", packetOf(LinkNull, framed(LinkNull, ipTCP(80))), true},
		{"bsd loopback written big-endian", "ip and tcp", packetOf(LinkNull, append([]byte{0, 0, 0, 2}, ipTCP(80)...)), true},
		{"negation on bsd loopback written big-endian", "not ip", packetOf(LinkNull, append([]byte{0, 0, 0, 2}, ipTCP(80)...)), false},
		{"ipv6 from macos loopback", "ip6", packetOf(LinkNull, []byte{30, 0, 0, 0, 0x60, 0, 0, 0}), true},
		{"ipv6 from freebsd loopback written big-endian", "ip6", packetOf(LinkNull, []byte{0, 0, 0, 28, 0x60, 0, 0, 0}), true},
		{"udp does not match a tcp segment", "udp", packetOf(LinkEthernet, framed(LinkEthernet, ipTCP(53))), false},
		{"len sees the wire length of a snaplen-cut frame", "greater 1000",
			&Packet{Data: framed(LinkEthernet, ipTCP(80)), OrigLen: 1514, Link: LinkEthernet}, true},
		{"empty packet fails every load", "tcp", packetOf(LinkEthernet, nil), false},
		{"empty expression accepts even an empty packet", "", packetOf(LinkEthernet, nil), true},
		{"frame cut inside the ip header", "tcp port 80", packetOf(LinkEthernet, framed(LinkEthernet, ipTCP(80))[:20]), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFilter(tt.expr, tt.packet.Link, 0)
			require.NoError(t, err)
			assert.Equal(t, tt.want, f.Match(tt.packet))
			assert.NoError(t, f.Err())
			assert.Equal(t, tt.expr, f.String())
		})
	}
}

func TestFilterExpressionThatCannotApplyToALaterLinkType(t *testing.T) {
	requirePcap(t)
	f, err := NewFilter("ether src 02:00:00:00:00:01", LinkEthernet, 0)
	require.NoError(t, err)
	assert.True(t, f.Match(packetOf(LinkEthernet, framed(LinkEthernet, ipTCP(80)))))
	assert.False(t, f.Match(packetOf(LinkRaw, ipTCP(80))))
	require.Error(t, f.Err())
	assert.Contains(t, f.Err().Error(), `filter "ether src 02:00:00:00:00:01": link type 101: `)
}

func TestNewFilterRejectsBadExpressions(t *testing.T) {
	requirePcap(t)
	tests := []struct {
		name string
		expr string
		link LinkType
		want string // libpcap's words, at least in part
	}{
		{"syntax error", "tcp port", LinkEthernet, "syntax error"},
		{"unknown keyword", "tcp prot 80", LinkEthernet, "syntax error"},
		{"port out of range", "port 70000", LinkEthernet, "port 70000"},
		{"ethernet address on raw ip", "ether host 1:2:3:4:5:6", LinkRaw, "ether"},
		{"link type libpcap cannot filter", "tcp", LinkType(147), "not implemented"},
		{"protocols inside nflog", "tcp port 80", LinkNFLog, "NFLOG link-layer type filtering not implemented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFilter(tt.expr, tt.link, 0)
			require.Error(t, err)
			assert.Nil(t, f)
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, fmt.Sprintf("filter %q: link type %d: ", tt.expr, tt.link)), msg)
			assert.Contains(t, msg, tt.want)
			assert.NotContains(t, msg, "\n")
		})
	}
}

func TestFilterMatchDoesNotAllocate(t *testing.T) {
	requirePcap(t)
	f, err := NewFilter("tcp port 445 or tcp port 3389", LinkEthernet, 0)
	require.NoError(t, err)
	eth := packetOf(LinkEthernet, framed(LinkEthernet, ipTCP(445)))
	raw := packetOf(LinkRaw, ipTCP(3389))
	f.Match(raw) // compile for the second link type before measuring
	allocs := testing.AllocsPerRun(1000, func() {
		if !f.Match(eth) || !f.Match(raw) {
			t.Fatal("no match")
		}
	})
	assert.Zero(t, allocs, "allocations per match")
}

func BenchmarkFilterMatch(b *testing.B) {
	requirePcap(b)
	f, err := NewFilter("tcp port 445 or tcp port 3389", LinkEthernet, 0)
	require.NoError(b, err)
	p := packetOf(LinkEthernet, framed(LinkEthernet, ipTCP(3389)))
	b.ReportAllocs()
	for b.Loop() {
		f.Match(p)
	}
}

// filterCorpusCases are offline filters over corpus files, checked against
// tcpdump's count of matching packets (testdata/sources/filter-tcpdump.tsv,
// rewritten with -update, which needs tcpdump).
var filterCorpusCases = []struct{ file, expr string }{
	{"zeek/kerberos_tso.pcapng", "tcp port 88 and greater 1514"},
	{"zeek/smb_v2_only_non_zero_reserved1.pcap", "tcp port 445"},
	{"zeek/rdp-proprietary-encryption.pcap", "tcp src port 3389 and greater 100"},
	{"zeek/openjdk-25.0.2-zeek.org.pcap", "tcp[tcpflags] & tcp-syn != 0"},
	{"zeek/payload-syn.pcap", "tcp and dst host 192.168.0.2"},
	{"zeek/reply-off-on-2conn.pcap", "ip6 and tcp"},
	{"zeek/reply-off-on-2conn.pcap", "not ip"},
	{"arkime/no-syn-ack.pcap", "vlan 50 and tcp"},
	{"tcpdump/tcp_rst_diag_payload-trunc.pcap", "ip and tcp[tcpflags] & tcp-rst != 0"},
	{"packets/synscan.pcapng", "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)"},
	{"tcpdump/mptcp-v1.pcap", "tcp"},
}

func TestFilterCountsLikeTcpdump(t *testing.T) {
	requirePcap(t)
	dir := sourcesCorpusDir(t)
	goldenPath := filepath.Join("testdata", "sources", "filter-tcpdump.tsv")
	golden := map[string]string{}
	if !updatingGolden() {
		golden = readGolden(t, goldenPath, 2)
	}
	for _, tc := range filterCorpusCases {
		key := tc.file + "\t" + tc.expr
		t.Run(tc.file+" "+tc.expr, func(t *testing.T) {
			path := filepath.Join(dir, filepath.FromSlash(tc.file))
			src, err := Open(path)
			require.NoError(t, err)
			defer src.Close()
			var f *Filter
			matched := 0
			for {
				var p Packet
				err := src.Next(&p)
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				if f == nil {
					f, err = NewFilter(tc.expr, p.Link, 0)
					require.NoError(t, err)
				}
				if f.Match(&p) {
					matched++
				}
			}
			if updatingGolden() {
				golden[key] = strconv.Itoa(tcpdumpCount(t, path, tc.expr))
			}
			assert.Equal(t, golden[key], strconv.Itoa(matched), "tcpdump's count is in %s", goldenPath)
		})
	}
	if updatingGolden() {
		writeGoldenTSV(t, goldenPath, "# file\texpression\tpackets tcpdump matches", golden)
	}
}

// tcpdumpCount has tcpdump write the packets expr matches to a file and
// tshark count them (tcpdump's text output is not one line per packet).
func tcpdumpCount(t *testing.T, path, expr string) int {
	tmp := filepath.Join(t.TempDir(), "matched.pcap")
	out, err := exec.Command("tcpdump", "-r", path, "-w", tmp, expr).CombinedOutput()
	require.NoError(t, err, "tcpdump -r %s %q: %s", path, expr, out)
	out, err = exec.Command("tshark", "-r", tmp, "-T", "fields", "-e", "frame.number").Output()
	require.NoError(t, err)
	return strings.Count(string(out), "\n")
}

// writeGoldenTSV writes key\tvalue lines, sorted, under a header comment.
func writeGoldenTSV(t *testing.T, path, header string, golden map[string]string) {
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(header+"\n"+sortedLines(golden)), 0o644))
}
