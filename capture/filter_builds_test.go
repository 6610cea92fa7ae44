package capture

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// filterBuildExprs are the expressions every filter-builds file is read
// with: ports, address families, VLAN offsets, flag tests and lengths
// exercise different parts of libpcap's code generator.
var filterBuildExprs = []string{
	"tcp port 3389",
	"ip6",
	"not ip",
	"vlan and tcp",
	"tcp[tcpflags] & tcp-syn != 0",
	"tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)",
	"tcp src port 3389 and greater 100",
	"ip6 and tcp port 445",
}

// TestFilterMatchesTheSamePacketsInEveryBuild reads captures with each
// expression and compares the frame numbers that match with
// testdata/sources/filter-matches.tsv (rewritten with -update from the
// cgo build). The cgo build reaches libpcap through gopacket; without cgo
// rwin loads libpcap at run time: run it both ways (make test does) and
// both must select exactly the same frames.
func TestFilterMatchesTheSamePacketsInEveryBuild(t *testing.T) {
	requirePcap(t)
	files := map[string]string{ // key in the golden file -> path
		"lab/rdp-ws-strip-syn/server.pcap":            filepath.Join("..", "fixtures", "captures", "lab", "rdp-ws-strip-syn", "server.pcap"),
		"lab/ws-strip-syn-v6/server.pcap":             filepath.Join("..", "fixtures", "captures", "lab", "ws-strip-syn-v6", "server.pcap"),
		"corpus/arkime/no-syn-ack.pcap":               "arkime/no-syn-ack.pcap",
		"corpus/zeek/reply-off-on-2conn.pcap":         "zeek/reply-off-on-2conn.pcap",
		"corpus/zeek/rdp-proprietary-encryption.pcap": "zeek/rdp-proprietary-encryption.pcap",
		"corpus/packets/synscan.pcapng":               "packets/synscan.pcapng",
	}
	goldenPath := filepath.Join("testdata", "sources", "filter-matches.tsv")
	golden := map[string]string{}
	if !updatingGolden() {
		golden = readGolden(t, goldenPath, 2)
	}
	for key, path := range files {
		t.Run(key, func(t *testing.T) {
			if rel, ok := strings.CutPrefix(key, "corpus/"); ok {
				path = filepath.Join(sourcesCorpusDir(t), filepath.FromSlash(rel))
			}
			got := matchedFrames(t, path, filterBuildExprs)
			for i, expr := range filterBuildExprs {
				k := key + "\t" + expr
				if updatingGolden() {
					golden[k] = got[i]
					continue
				}
				assert.Equal(t, golden[k], got[i], "frames %q matches in %s (see %s)", expr, key, goldenPath)
			}
		})
	}
	if updatingGolden() {
		writeGoldenTSV(t, goldenPath, "# file\texpression\tframes (1-based) the filter matches, in both builds", golden)
	}
}

// matchedFrames reads path once and returns, per expression, the frame
// numbers it matches as ranges ("1-3,7"; "-" for none), or libpcap's
// refusal to compile it for the file's link type.
func matchedFrames(t *testing.T, path string, exprs []string) []string {
	src, err := Open(path)
	require.NoError(t, err)
	defer src.Close()
	filters := make([]*Filter, len(exprs))
	refused := make([]error, len(exprs))
	frames := make([][]int, len(exprs))
	for n := 1; ; n++ {
		var p Packet
		err := src.Next(&p)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		for i, expr := range exprs {
			if filters[i] == nil && refused[i] == nil {
				filters[i], refused[i] = NewFilter(expr, p.Link, 0)
				require.False(t, errors.Is(refused[i], ErrNoPcap), "%v", refused[i])
			}
			if filters[i] != nil && filters[i].Match(&p) {
				frames[i] = append(frames[i], n)
			}
		}
	}
	out := make([]string, len(exprs))
	for i := range exprs {
		out[i] = frameRanges(frames[i])
		if refused[i] != nil {
			out[i] = "refused: " + refused[i].Error()
		}
	}
	return out
}

// frameRanges writes ascending frame numbers as comma-separated ranges.
func frameRanges(frames []int) string {
	if len(frames) == 0 {
		return "-"
	}
	var b strings.Builder
	for i := 0; i < len(frames); {
		j := i
		for j+1 < len(frames) && frames[j+1] == frames[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if j == i {
			fmt.Fprint(&b, frames[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", frames[i], frames[j])
		}
		i = j + 1
	}
	return b.String()
}
