package analyze_test

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
	"rwin/fixtures"
)

// oracleRow is one tcp.stream of ORACLE.tsv, tshark's view of the corpus.
type oracleRow struct {
	file, stream, client, server string
	synWS, synackWS              string // shift, "-" absent, "" no such packet
	synSACK, synackSACK          string // 1/0, "" no such packet
	synTS, synackTS              string
	synMSS, synackMSS            string
	c2sFactor, s2cFactor         string // multiplier, -1 unknown, -2 not scaled, "-" no packet
	packets                      string
	from                         string // syn, synack, first-pkt
}

func readOracle(t *testing.T, dir string) []oracleRow {
	f, err := os.Open(filepath.Join(dir, "ORACLE.tsv"))
	require.NoError(t, err)
	defer f.Close()
	var rows []oracleRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v := strings.Split(sc.Text(), "\t")
		if len(v) < 16 || v[0] == "file" {
			continue
		}
		rows = append(rows, oracleRow{file: v[0], stream: v[1], client: v[2], server: v[3],
			synWS: v[4], synackWS: v[5], synSACK: v[6], synackSACK: v[7], synTS: v[8], synackTS: v[9],
			synMSS: v[10], synackMSS: v[11], c2sFactor: v[12], s2cFactor: v[13], packets: v[14], from: v[15]})
	}
	require.NoError(t, sc.Err())
	return rows
}

// conformanceExceptions are the streams where rwin deliberately differs from
// tshark, with the reason; the test fails if a listed difference goes away
// (the entry is then stale) or an unlisted one appears. Key: file#stream,
// field; file#* names every stream of the file.
var conformanceExceptions = map[string]string{
	// RFC 7323 §2.2: scaling needs the option in both SYN and SYN-ACK.
	// With no SYN-ACK captured tshark still applies the SYN's shift;
	// rwin reports the scale as unknown (and infers a bound from data).
	"arkime/no-syn-ack.pcap#0 c2s_factor": "tshark scales with the SYN's shift although no SYN-ACK was seen; rwin: unknown",
	"arkime/no-syn-ack.pcap#1 c2s_factor": "tshark scales with the SYN's shift although no SYN-ACK was seen; rwin: unknown",
	// A one-sided capture of 86 connections: SYNs with WS and client
	// data, never a SYN-ACK.
	"ndpi/whatsapp.pcap#* c2s_factor": "tshark scales with the SYN's shift although no SYN-ACK was seen; rwin: unknown",
	// The server's RST (which acknowledges the SYN) and FIN come before
	// its SYN-ACK; tshark starts over after them and loses the SYN, rwin
	// keeps the one connection and its handshake, which settles shift 8
	// both ways (RFC 7323 §2.2).
	"suricata/with_evasion_windows.pcap#0 s2c_factor": "RST and FIN before the SYN-ACK: tshark unknown, rwin the handshake's shift",
	// Windows retries its SYN and drops window scale on the third try; the
	// server's RSTs answer that retry. tshark keeps the first SYN's option
	// and calls the scale unknown; rwin judges by the SYN the peer answered,
	// which proves scaling off (RFC 7323 §2.2).
	"zeek/pop3.pcap#0 s2c_factor": "the answered SYN retry lacks WS: rwin says not scaled, tshark unknown",
	"zeek/pop3.pcap#1 s2c_factor": "the answered SYN retry lacks WS: rwin says not scaled, tshark unknown",
	// A fuzzed segment from 48.48.48.48:12336 to itself: tshark counts it
	// in both directions, rwin once, as the client's.
	"tcpdump/tcp-auth-heapoverflow.pcap#0 s2c_factor": "segment sent to its own address and port: one direction, not two",
	// rwin does not reassemble IP fragments (a decoder without per-packet
	// memory cannot hold them): it reads the TCP header a first fragment
	// carries, tshark the reassembled packet.
	"zeek/fragmented-syn.pcap#0 flow":                       "the SYN's TCP header is split over two IP fragments: tshark reassembles them, rwin finds no whole header",
	"zeek/gtp1_gn_normal_incl_fragmentation.pcap#0 packets": "4 of the 40 fragmented outer packets never complete: tshark shows no TCP in them, rwin decodes the TCP header their first fragments carry",
}

// synWithoutSYNACK is the documented difference of every stream whose SYN
// offered window scale but whose SYN-ACK was not captured: tshark scales
// the client's windows with the SYN's shift anyway, rwin calls the scale
// unknown, as RFC 7323 §2.2 has it (scaling needs the option both ways).
const synWithoutSYNACK = "SYN with WS, no SYN-ACK captured: tshark scales client→server anyway, rwin says unknown (RFC 7323 §2.2)"

// ruleException says whether a difference on field is one the corpus
// README documents as a class rather than stream by stream.
func ruleException(o oracleRow, field, got string) (string, bool) {
	if field == "c2s_factor" && o.synackWS == "" && o.synWS != "" && o.synWS != "-" && got == "-1" {
		return synWithoutSYNACK, true
	}
	return "", false
}

// rwinView is one rwin flow reduced to the oracle's columns.
type rwinView struct {
	id                                   uint64
	client, server                       string
	synWS, synackWS, synSACK, synackSACK string
	synTS, synackTS, synMSS, synackMSS   string
	c2sFactor, s2cFactor, packets        string
}

func hsView(hs *analyze.HandshakeSegment) (ws, sack, ts, mss string) {
	if !hs.Seen {
		return "", "", "", ""
	}
	o := &hs.Opts
	ws, mss, sack, ts = "-", "-", "0", "0"
	if o.Has&capture.HasWScale != 0 {
		ws = strconv.Itoa(int(o.WScale))
	}
	if o.Has&capture.HasMSS != 0 {
		mss = strconv.Itoa(int(o.MSS))
	}
	if o.Has&capture.HasSACKPerm != 0 {
		sack = "1"
	}
	if o.Has&capture.HasTimestamp != 0 {
		ts = "1"
	}
	return
}

// factorView renders the scale factor tshark would show for the windows an
// endpoint advertises: -2 when the handshake turned scaling off, the
// multiplier when it settled a shift, -1 otherwise ("-" without packets).
func factorView(f *analyze.Flow, e *analyze.Endpoint) string {
	if e.Packets == 0 || (e.Window.Samples == 0 && e.Packets == countSYNs(f, e)) {
		return "-"
	}
	switch {
	case f.Negotiated.Scaling == analyze.No:
		return "-2"
	case e.Shift.Basis == analyze.BasisNegotiated:
		return strconv.Itoa(1 << e.Shift.Value)
	}
	return "-1"
}

func countSYNs(f *analyze.Flow, e *analyze.Endpoint) uint64 {
	if e == &f.Client {
		return uint64(f.SYNs)
	}
	return uint64(f.SYNACKs)
}

func viewOf(f *analyze.Flow) rwinView {
	v := rwinView{id: f.ID, client: f.Client.Addr.String(), server: f.Server.Addr.String()}
	v.synWS, v.synSACK, v.synTS, v.synMSS = hsView(&f.SYN)
	v.synackWS, v.synackSACK, v.synackTS, v.synackMSS = hsView(&f.SYNACK)
	v.c2sFactor = factorView(f, &f.Client)
	v.s2cFactor = factorView(f, &f.Server)
	// tshark counts every copy of a segment the capture recorded twice.
	v.packets = strconv.FormatUint(f.Client.Packets+f.Server.Packets+f.Client.Duplicates+f.Server.Duplicates, 10)
	return v
}

// pairKey names a flow's endpoints regardless of direction.
func pairKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + " " + b
}

func TestConformanceWithTshark(t *testing.T) {
	dir := fixtures.CorpusDir(t)
	rows := readOracle(t, dir)
	require.NotEmpty(t, rows)
	byFile := map[string][]oracleRow{}
	var files []string
	for _, r := range rows {
		if _, ok := byFile[r.file]; !ok {
			files = append(files, r.file)
		}
		byFile[r.file] = append(byFile[r.file], r)
	}
	seenExceptions := map[string]bool{}
	var streams, agreed, ruleDiffs int
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			src, err := capture.Open(filepath.Join(dir, file))
			require.NoError(t, err)
			defer src.Close()
			var flows []rwinView
			sum := analyze.Run(src, nil, analyze.Config{}, func(f *analyze.Flow) { flows = append(flows, viewOf(f)) })
			if sum.Err != nil && !errors.Is(sum.Err, capture.ErrTruncated) {
				t.Fatalf("reading: %v", sum.Err)
			}
			// Flows are emitted as they finish; put each endpoint pair's
			// incarnations in the order they started, like tcp.stream.
			mine := map[string][]rwinView{}
			slices.SortFunc(flows, func(a, b rwinView) int { return cmp.Compare(a.id, b.id) })
			for _, v := range flows {
				k := pairKey(v.client, v.server)
				mine[k] = append(mine[k], v)
			}
			used := map[string]int{}
			for _, o := range byFile[file] {
				streams++
				k := pairKey(normAddr(o.client), normAddr(o.server))
				i := used[k]
				used[k]++
				id := fmt.Sprintf("%s#%s", file, o.stream)
				if i >= len(mine[k]) {
					if _, listed := conformanceExceptions[id+" flow"]; listed {
						seenExceptions[id+" flow"] = true
						continue
					}
					t.Errorf("%s (%s ↔ %s): tshark has this stream, rwin has no matching flow", id, o.client, o.server)
					continue
				}
				m := mine[k][i]
				ok, ruleDiff := true, false
				check := func(field, want, got string) {
					key := id + " " + field
					if _, listed := conformanceExceptions[key]; !listed {
						key = file + "#* " + field // a difference on every stream of the file
					}
					if reason, listed := conformanceExceptions[key]; listed {
						seenExceptions[key] = true
						assert.NotEqualf(t, want, got, "%s: documented difference no longer differs (%s): drop the exception", key, reason)
						return
					}
					if _, documented := ruleException(o, field, got); documented && want != got {
						ruleDiff = true
						return
					}
					if want != got {
						ok = false
						t.Errorf("%s: %s: tshark %q, rwin %q", id, field, want, got)
					}
				}
				if o.from != "first-pkt" {
					check("client", normAddr(o.client), m.client)
				}
				check("syn_ws", o.synWS, m.synWS)
				check("synack_ws", o.synackWS, m.synackWS)
				check("syn_sackok", o.synSACK, m.synSACK)
				check("synack_sackok", o.synackSACK, m.synackSACK)
				check("syn_ts", o.synTS, m.synTS)
				check("synack_ts", o.synackTS, m.synackTS)
				check("syn_mss", o.synMSS, m.synMSS)
				check("synack_mss", o.synackMSS, m.synackMSS)
				check("packets", o.packets, m.packets)
				if o.from == "first-pkt" {
					// Roles may differ; compare the factors per endpoint.
					if normAddr(o.client) != m.client {
						o.c2sFactor, o.s2cFactor = o.s2cFactor, o.c2sFactor
					}
				}
				check("c2s_factor", o.c2sFactor, m.c2sFactor)
				check("s2c_factor", o.s2cFactor, m.s2cFactor)
				switch {
				case ok && ruleDiff:
					ruleDiffs++
				case ok:
					agreed++
				}
			}
			for k, v := range mine {
				if extra := len(v) - used[k]; extra > 0 {
					t.Errorf("%s: rwin has %d more flows between %s than tshark has streams", file, extra, k)
				}
			}
		})
	}
	for key, reason := range conformanceExceptions {
		assert.Truef(t, seenExceptions[key], "exception %q (%s) matched no stream", key, reason)
	}
	t.Logf("%d streams in %d files: %d agree with tshark on every field; %d documented differences, and %d streams whose SYN offered WS without a SYN-ACK captured",
		streams, len(files), agreed-len(seenExceptions), len(seenExceptions), ruleDiffs)
}

// normAddr turns the oracle's "[v6]:port" / "v4:port" into netip's form.
func normAddr(s string) string {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return s
	}
	return ap.String()
}
