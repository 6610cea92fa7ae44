package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/fixtures"
	"rwin/fixtures/bench/traffic"
)

// chromium returns the headless browser the report is tested in: Debian's
// chromium package (make test installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	fixtures.SkipUnlessCI(t, "no Chromium to test the HTML report in (apt-get install chromium)")
	return ""
}

// newBrowser starts headless Chromium with a throw-away profile and
// nothing running in the background that would make requests of its own.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	require.NoError(t, chromedp.Do(ctx), "start Chromium")
	return ctx
}

// pageWatch records what a page did wrong: console errors, uncaught
// exceptions, and requests for anything but the report file itself.
type pageWatch struct {
	mu       sync.Mutex
	errors   []string
	requests []string
	sawSelf  bool // the report's own load: network events do arrive
}

// listen is the tab's listener (chromedp.WithListener), from its start.
func (w *pageWatch) listen(self string) func(ev any) {
	return func(ev any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				w.errors = append(w.errors, "console: "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			w.errors = append(w.errors, "exception: "+e.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				w.errors = append(w.errors, "log: "+e.Entry.Text)
			}
		case *network.EventRequestWillBeSent:
			if e.Request.URL == self {
				w.sawSelf = true
			} else {
				w.requests = append(w.requests, e.Request.URL)
			}
		}
	}
}

// writeReport runs rwin read --format html on the captures.
func writeReport(t *testing.T, out string, captures ...string) {
	t.Helper()
	var stderr bytes.Buffer
	args := append([]string{"read", "--format", "html", "-o", out}, captures...)
	require.Equal(t, exitOK, run(args, nil, io.Discard, &stderr), stderr.String())
}

// manyFlows writes a capture of the benchmark's traffic mix, thousands of
// flows.
func manyFlows(t *testing.T) string {
	name := filepath.Join(t.TempDir(), "many.pcap")
	f, err := os.Create(name)
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	cfg := traffic.Bench()
	cfg.Packets = 60_000
	_, err = traffic.Write(w, cfg)
	require.NoError(t, err)
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
	return name
}

// TestHTMLReportInABrowser opens reports of lab recordings and of a
// capture with thousands of flows in headless Chromium: each loads
// without a console error or any request, draws every chart it lays out
// (with data on it), lists the findings and the flows, sorts the table,
// zooms all of a flow's charts together, and prints to PDF.
func TestHTMLReportInABrowser(t *testing.T) {
	ctx := newBrowser(t)
	lab := filepath.Join(fixtures.Dir(), "captures", "lab")
	cases := []struct {
		name     string
		capture  func(t *testing.T) string
		findings []string // finding IDs the report must list
		minFlows int
	}{
		{"unscaled-window firewall", fixed(lab, "fw-unscaled-window/server.pcap"), []string{"unscaled-window-enforced"}, 1},
		{"scale option stripped from the SYN", fixed(lab, "ws-strip-syn/server.pcap"), nil, 1},
		{"SYN proxy", fixed(lab, "syn-proxy/client.pcap"), nil, 1},
		{"clean bulk transfer", fixed(lab, "clean/server.pcap"), nil, 1},
		{"thousands of flows", manyFlows, nil, 1000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			capture := c.capture(t)
			out := filepath.Join(t.TempDir(), "report.html")
			writeReport(t, out, capture)
			tctx, w := openReport(t, ctx, out)

			laidOut, findingSections, rows := checkDrawn(t, tctx)
			assert.GreaterOrEqual(t, rows, c.minFlows, "the flow table lists the flows")
			for _, id := range c.findings {
				n := evaluate[int](t, tctx, `document.querySelectorAll("#finding-`+id+` .examples li").length`)
				assert.Positive(t, n, "finding %s is listed with its flows", id)
			}
			if len(c.findings) > 0 {
				assert.Positive(t, findingSections)
			}

			t.Run("sorting", func(t *testing.T) { checkSorting(t, tctx, 6, 0) })
			t.Run("zoom", func(t *testing.T) { checkZoom(t, tctx) })

			pdf, err := chromedp.Run(tctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4)))
			require.NoError(t, err)
			assert.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")), "a PDF")
			assert.Greater(t, len(pdf), 10_000)

			w.check(t)
			t.Logf("%d charts, %d table rows, %d finding kinds, PDF of %d bytes", laidOut, rows, findingSections, len(pdf))
		})
	}
}

// openReport opens a report file in a new tab of the browser, watching
// it from the start, and waits for its page.
func openReport(t *testing.T, ctx context.Context, file string) (context.Context, *pageWatch) {
	t.Helper()
	url := "file://" + file
	w := &pageWatch{}
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithListener(w.listen(url)))
	t.Cleanup(cancel)
	tctx, cancelT := context.WithTimeout(tab, 90*time.Second)
	t.Cleanup(cancelT)
	require.NoError(t, chromedp.Do(tctx))
	_, err := chromedp.Call(tctx, network.Enable, network.EnableParams{})
	require.NoError(t, err)
	_, err = chromedp.Call(tctx, log.Enable, cdp.Empty{})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(tctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body"))))
	return tctx, w
}

// checkDrawn checks that every chart laid out is drawn, with data, and
// returns how many there are, the finding sections and the table rows.
func checkDrawn(t *testing.T, ctx context.Context) (laidOut, findings, rows int) {
	t.Helper()
	laidOut = evaluate[int](t, ctx, `document.querySelectorAll(".chart[data-chart]").length`)
	drawn := evaluate[int](t, ctx, `window.rwinCharts.filter(u => {
			const c = u.ctx, d = c.getImageData(0, 0, c.canvas.width, c.canvas.height).data;
			for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
			return false;
		}).length`)
	withData := evaluate[int](t, ctx, `window.rwinCharts.filter(u => u.data.slice(1).some(s => s.some(v => v != null))).length`)
	findings = evaluate[int](t, ctx, `document.querySelectorAll("#findings .finding").length`)
	rows = evaluate[int](t, ctx, `document.querySelectorAll("#flows tbody tr").length`)
	assert.Positive(t, laidOut, "the report charts something")
	assert.Equal(t, laidOut, drawn, "every chart laid out is drawn")
	assert.Equal(t, laidOut, withData, "every chart has data")
	return laidOut, findings, rows
}

// check asserts that the page logged no error and asked for nothing
// beyond its own file.
func (w *pageWatch) check(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	assert.Empty(t, w.errors, "console errors")
	assert.True(t, w.sawSelf, "the browser reported the report's own load")
	assert.Empty(t, w.requests, "requests beyond the report file")
}

// TestDiffHTMLReportInABrowser opens rwin diff's reports of two-point lab
// recordings (the stripped option, the unscaled-window firewall) and of a
// generated pair across a NAT in headless Chromium: no console error and
// no request, every chart drawn with data, both captures charted for the
// pair, the findings and the pair table present and sortable, and a zoom
// on capture A's chart moving capture B's with it.
func TestDiffHTMLReportInABrowser(t *testing.T) {
	ctx := newBrowser(t)
	lab := func(scenario string) func(t *testing.T) [2]string {
		return func(t *testing.T) [2]string {
			c, s := labEnds(t, scenario)
			return [2]string{c, s}
		}
	}
	for _, c := range []struct {
		name     string
		captures func(t *testing.T) [2]string
		finding  string
		minPairs int
	}{
		{"scale option stripped from the SYN", lab("ws-strip-syn"), "path-strips-option", 1},
		{"unscaled-window firewall", lab("fw-unscaled-window"), "path-enforces-unscaled-window", 1},
		{"benchmark traffic across a NAT", func(t *testing.T) [2]string {
			a, b := benchPair(t, 30_000)
			return [2]string{a, b}
		}, "path-translates-addresses", 500},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := c.captures(t)
			out := filepath.Join(t.TempDir(), "diff.html")
			code, _, stderr := rwinRun(t, nil, "diff", "--format", "html", "-o", out, files[0], files[1])
			require.Equal(t, exitOK, code, stderr)
			tctx, w := openReport(t, ctx, out)

			laidOut, findings, rows := checkDrawn(t, tctx)
			assert.Positive(t, findings)
			assert.GreaterOrEqual(t, rows, c.minPairs, "the pair table lists the pairs")
			n := evaluate[int](t, tctx, `document.querySelectorAll("#finding-`+c.finding+` .examples li").length`)
			assert.Positive(t, n, "finding %s is listed with its pairs", c.finding)
			titles := evaluate[[]string](t, tctx, `window.rwinCharts.filter(u => u.rwinFlow === window.rwinCharts[0].rwinFlow).map(u => u.root.querySelector(".u-title").textContent)`)
			assert.True(t, slices.ContainsFunc(titles, func(s string) bool { return strings.HasPrefix(s, "Capture A:") }), "capture A charted: %q", titles)
			assert.True(t, slices.ContainsFunc(titles, func(s string) bool { return strings.HasPrefix(s, "Capture B:") }), "capture B charted: %q", titles)

			t.Run("sorting", func(t *testing.T) { checkSorting(t, tctx, 3, 0) })
			t.Run("zoom", func(t *testing.T) { checkZoom(t, tctx) })
			w.check(t)
			t.Logf("%d charts, %d pair rows, %d finding kinds", laidOut, rows, findings)
		})
	}
}

// evaluate runs a JavaScript expression in the page and decodes its value.
func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}

// fixed returns a capture of the repository's fixtures.
func fixed(dir, name string) func(t *testing.T) string {
	return func(t *testing.T) string {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			fixtures.SkipUnlessCI(t, "no lab recording %s (run make fixtures)", p)
		}
		return p
	}
}

// checkSorting clicks a numeric column's heading (num), then the ID
// heading (id) twice: the rows follow each column's numbers, ascending
// then descending.
func checkSorting(t *testing.T, ctx context.Context, num, id int) {
	keys := func(col int) []float64 {
		return evaluate[[]float64](t, ctx, `[...document.querySelectorAll("#flows tbody tr")].map(r => +r.cells[`+strconv.Itoa(col)+`].dataset.key)`)
	}
	click := func(col int) {
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#flows th[data-col="`+strconv.Itoa(col)+`"] button`))))
	}
	click(num)
	k := keys(num)
	assert.IsNonDecreasing(t, k, "column %d, ascending", num)
	click(id)
	click(id)
	k = keys(id)
	assert.IsNonIncreasing(t, k, "ID, descending after a second click")
}

// checkZoom drags across the first chart: its x range narrows, and so
// does that of the other charts of the same flow.
func checkZoom(t *testing.T, ctx context.Context) {
	type rng struct{ Min, Max float64 }
	ranges := func() []rng {
		return evaluate[[]rng](t, ctx, `window.rwinCharts.filter(u => u.rwinFlow === window.rwinCharts[0].rwinFlow).map(u => ({Min: u.scales.x.min, Max: u.scales.x.max}))`)
	}
	before := ranges()
	require.NotEmpty(t, before)
	box := evaluate[struct{ X, Y, W, H float64 }](t, ctx, `(() => { const o = window.rwinCharts[0].over; o.scrollIntoView({block: "center"});
			const b = o.getBoundingClientRect(); return {X: b.x, Y: b.y, W: b.width, H: b.height}; })()`)
	y := box.Y + box.H/2
	require.NoError(t, chromedp.Do(ctx, chromedp.DragAndDropXY(box.X+box.W*0.3, y, box.X+box.W*0.6, y, 5)))
	after := ranges()
	require.Len(t, after, len(before))
	for i := range after {
		assert.Less(t, after[i].Max-after[i].Min, 0.5*(before[i].Max-before[i].Min),
			"chart %d of the flow: the x range narrowed to the drag", i)
		assert.InDelta(t, after[0].Min, after[i].Min, 1e-6, "chart %d zoomed with the first", i)
	}
}
