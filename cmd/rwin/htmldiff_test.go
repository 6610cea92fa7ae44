package main

import (
	"bufio"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/analyze/pathdiff"
	"rwin/capture"
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

// TestDiffHTMLGathersTheSamePageInAnyOrder: the diff hands its pairs over
// as they finish, in no fixed order; the report keeps only the page's
// worth of them (table rows, examples, charted pairs). Whatever the order,
// it keeps the same ones: the most notable rows in pair order, the first
// pairs as each finding's examples, the worst and the biggest pairs to
// chart.
func TestDiffHTMLGathersTheSamePageInAnyOrder(t *testing.T) {
	a, b := benchPair(t, 20_000)
	var open [2]analyze.Opener
	for i, name := range []string{a, b} {
		open[i] = func() (capture.Source, error) { return capture.Open(name) }
	}
	res, err := pathdiff.Diff(open, analyze.Config{})
	require.NoError(t, err)
	require.Greater(t, len(res.Pairs), 100)
	defer func(n int) { report.MaxHTMLRows = n }(report.MaxHTMLRows)
	report.MaxHTMLRows = 40

	gather := func(order []int) *diffHTML {
		d := newDiffHTML(3, open, analyze.Config{})
		for _, n := range order {
			p := &res.Pairs[n]
			rec := newDiffPairRecord(n+1, [2]string{a, b}, p, &res.Sides[0].Flows[p.A], &res.Sides[1].Flows[p.B])
			d.pair(&rec)
		}
		d.trimRows()
		slices.SortFunc(d.rows, func(x, y pairRow) int { return x.pair - y.pair })
		return d
	}
	forward := make([]int, len(res.Pairs))
	for i := range forward {
		forward[i] = i
	}
	backward := slices.Clone(forward)
	slices.Reverse(backward)
	shuffled := slices.Clone(forward)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })

	want := gather(forward)
	require.Len(t, want.rows, report.MaxHTMLRows)
	assert.Equal(t, len(res.Pairs), want.pairs)
	require.NotEmpty(t, want.find, "the benchmark path's NAT and loss are findings")
	pairsOf := func(cs []*charted) (n []int) {
		for _, c := range cs {
			n = append(n, c.rec.Pair)
		}
		return n
	}
	for name, order := range map[string][]int{"backward": backward, "shuffled": shuffled} {
		got := gather(order)
		assert.Equal(t, want.rows, got.rows, name)
		assert.Equal(t, want.find, got.find, name)
		assert.Equal(t, pairsOf(want.charted()), pairsOf(got.charted()), name)
	}
	// The rows are the most notable pairs: none left out ranks above one
	// listed.
	listed := map[int]bool{}
	least := math.MaxInt
	for _, r := range want.rows {
		listed[r.pair] = true
		least = min(least, r.rank)
	}
	for n := range res.Pairs {
		p := &res.Pairs[n]
		rec := newDiffPairRecord(n+1, [2]string{a, b}, p, &res.Sides[0].Flows[p.A], &res.Sides[1].Flows[p.B])
		if !listed[n+1] {
			assert.LessOrEqual(t, pairRank(&rec), least, "pair %d left out of the table", n+1)
		}
	}
	// The charted pairs outlive the diff's flows: they hold copies.
	for _, c := range want.charted() {
		assert.NotSame(t, &res.Sides[0].Flows[c.rec.p.A], c.rec.fa)
		assert.Equal(t, res.Sides[0].Flows[c.rec.p.A].ID, c.rec.fa.ID)
	}
}
