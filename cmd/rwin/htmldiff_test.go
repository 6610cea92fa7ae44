package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/cmd/rwin/report"
	"rwin/fixtures/bench/traffic"
)

// runDiffHTML runs rwin diff --format html on a and b into a file and
// returns the page and its charts' data, decoded.
func runDiffHTML(t *testing.T, args ...string) (string, map[string]map[string]any) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "diff.html")
	code, stdout, stderr := rwinRun(t, nil, append([]string{"diff", "--format", "html", "-o", out}, args...)...)
	require.Equal(t, exitOK, code, stderr)
	assert.Empty(t, stdout, "-o takes the page")
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	page := string(b)
	m := regexp.MustCompile(`(?s)<script id="rwin-data" type="application/json">(.*?)</script>`).FindStringSubmatch(page)
	require.NotNil(t, m, "the charts' data")
	var data map[string]map[string]any
	require.NoError(t, json.Unmarshal([]byte(m[1]), &data))
	return page, data
}

// TestDiffHTMLReport: the report of two-point lab recordings lists the
// findings with their packet pairs and the pair table as HTML, and lays
// out, for the pair, each capture's charts of each direction with data,
// B's on A's time line.
func TestDiffHTMLReport(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		finding  string
		// dir is the direction (0 client→server, 1 server→client) whose
		// charts must mark the finding's evidence.
		dir int
	}{
		{"fw-unscaled-window", "path-enforces-unscaled-window", 1},
		{"ws-strip-syn", "path-strips-option", -1},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			client, server := labEnds(t, tc.scenario)
			page, data := runDiffHTML(t, client, server)
			assert.Contains(t, page, `<article class="finding" id="finding-`+tc.finding+`">`)
			assert.Regexp(t, `Evidence: A <b>#\d+</b> ⇄ B <b>#\d+</b>`, page, "evidence as packet pairs")
			assert.Contains(t, page, `<tr id="row-p1" class="`, "the pair table lists the pair")
			assert.Contains(t, page, `<article class="flow" id="p1">`, "the pair is charted")
			assert.NotRegexp(t, `(src|href)="[a-z]+:`, page, "no link or request to the network")
			for _, c := range []string{"a", "b"} {
				d := data["p1-"+c+"/"+map[bool]string{true: "1", false: "0"}[tc.dir == 1]]
				require.NotNil(t, d, "capture %s's charts of the pair", c)
				assert.Equal(t, "p1", d["flow"], "both captures' charts zoom together")
				assert.Equal(t, strings.ToUpper(c), d["capture"])
				assert.Less(t, d["x0"], d["x1"])
				assert.Contains(t, page, `data-chart="p1-`+c+`/`, "capture %s's charts are laid out", c)
				if tc.dir >= 0 {
					ev := strings.Join(toStrings(d["evText"]), " ")
					assert.Contains(t, ev, tc.finding, "capture %s's chart marks the evidence", c)
				}
			}
			a, b := data["p1-a/0"], data["p1-b/0"]
			require.NotNil(t, a)
			require.NotNil(t, b)
			assert.Equal(t, a["x0"], b["x0"], "both captures open on the same time range")
		})
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestDiffHTMLMovesBByTheClockOffset: on a generated pair whose B clock
// runs 1.5 s ahead, B's charts sit on A's time line, and the NAT and the
// loss between the points are in the report.
func TestDiffHTMLMovesBByTheClockOffset(t *testing.T) {
	a, b := benchPair(t, 30_000)
	page, data := runDiffHTML(t, "--top", "2", a, b)
	assert.True(t, strings.Contains(page, `id="finding-path-translates-addresses"`), "the NAT")
	assert.True(t, strings.Contains(page, `id="finding-path-drops-segments"`), "the loss")
	assert.True(t, strings.Contains(page, "B&#39;s clock − A&#39;s: &#43;1500.000 ms"), "the clock offset")
	charted := 0
	for key, d := range data {
		if !strings.HasSuffix(key, "/0") && !strings.HasSuffix(key, "/1") || !strings.Contains(key, "-b/") {
			continue
		}
		other := data[strings.Replace(key, "-b/", "-a/", 1)]
		if other == nil {
			continue
		}
		charted++
		tb, ta := d["t"].([]any), other["t"].([]any)
		assert.InDelta(t, ta[0].(float64), tb[0].(float64), 0.01, "%s: B's first bucket within 10 ms of A's, not 1.5 s", key)
	}
	assert.Positive(t, charted)
	assert.LessOrEqual(t, strings.Count(page, `<article class="flow" id=`), report.HTMLFindingFlows+2)
}

// benchPair writes a pair of the benchmark traffic (traffic.BenchPath) of
// the given packets per side.
func benchPair(t *testing.T, packets int) (string, string) {
	t.Helper()
	dir := t.TempDir()
	names := [2]string{filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")}
	var files [2]*os.File
	var ws [2]*bufio.Writer
	for i, n := range names {
		f, err := os.Create(n)
		require.NoError(t, err)
		files[i], ws[i] = f, bufio.NewWriter(f)
	}
	cfg := traffic.Bench()
	cfg.Packets = packets
	_, err := traffic.WritePair(ws[0], ws[1], cfg, traffic.BenchPath())
	require.NoError(t, err)
	for i := range files {
		require.NoError(t, ws[i].Flush())
		require.NoError(t, files[i].Close())
	}
	return names[0], names[1]
}

// TestDiffOutputFile: rwin diff -o writes a new file, refuses an existing
// one unless --force, in every format.
func TestDiffOutputFile(t *testing.T) {
	client, server := labEnds(t, "ws-strip-syn")
	for _, format := range []string{"text", "html"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "diff."+format)
			require.NoError(t, os.WriteFile(out, []byte("keep"), 0o644))
			code, stdout, stderr := rwinRun(t, nil, "diff", "--format", format, "-o", out, client, server)
			assert.Equal(t, exitInput, code)
			assert.Contains(t, stderr, "give --force to replace it")
			assert.Empty(t, stdout)
			b, err := os.ReadFile(out)
			require.NoError(t, err)
			assert.Equal(t, "keep", string(b), "the existing file is left alone")

			code, stdout, stderr = rwinRun(t, nil, "diff", "--format", format, "--force", "-o", out, client, server)
			require.Equal(t, exitOK, code, stderr)
			assert.Empty(t, stdout)
			b, err = os.ReadFile(out)
			require.NoError(t, err)
			assert.Contains(t, string(b), "path-strips-option")
		})
	}
}
