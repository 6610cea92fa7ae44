package report

import (
	"container/heap"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"rwin/analyze"
	"rwin/rules"
)

// The HTML report (--format html) gathers, as flows finish, what its page
// shows, in memory that does not grow with the flows: the table's rows (at
// most MaxHTMLRows, the most important kept), the worst flows, a few
// examples of each finding, and the flows it charts with their time series
// (see analyze.Series), drawn from one budget for every input read.

// MaxHTMLRows bounds the flow table of an HTML report (rwin read's and
// rwin diff's): a capture of a million flows still gives a page a browser
// opens. The rows kept are the most important, as the text table's beyond
// MaxListed.
var MaxHTMLRows = 5_000 // a variable for tests

// The HTML reports' other bounds.
const (
	htmlWorst        = 15      // flows listed under "worst flows first"
	HTMLExamples     = 8       // flows (pairs) shown per finding
	HTMLFindingFlows = 24      // flows (pairs) with a warn or error finding that are charted
	HTMLDefaultTop   = 5       // --top: flows charted by bytes and by smallest ceiling
	HTMLSeriesBytes  = 8 << 20 // budget of the time series recorded at once: 395 flows
)

// HTML is the --format html sink for every input of one run. It takes the
// flows one at a time, in the order they finish (see SeriesSink), with
// their time series.
type HTML struct {
	w      io.Writer
	top    int
	budget *analyze.SeriesBudget

	mu       sync.Mutex
	rows     htmlRows // bounded by MaxHTMLRows, see addRow
	unlisted int
	worst    []*htmlFlow // at most htmlWorst
	findings map[string]*findingGroup
	charts   [chartReasons][]*htmlFlow // candidates by reason, each bounded
}

// htmlRow is one row of the flow table: the text table's cells, and the
// numbers its numeric columns sort by.
type htmlRow struct {
	file  string
	id    uint64
	rank  int
	cells []string
	keys  []float64 // per cell; NaN sorts a cell as text
	sev   string    // the most severe finding's severity, or ""
}

// findingGroup is one kind of finding over the run.
type findingGroup struct {
	rec      FindingRecord // the first; its advice stands for all
	severity rules.Severity
	flows    int
	examples []findingExample
}

// findingExample is one flow's finding of a group.
type findingExample struct {
	file string
	id   uint64
	rec  FindingRecord
}

// ChartReason is why a flow (a pair) is charted.
type ChartReason int

// The reasons, bits of a charted flow's reasons.
const (
	ByFinding ChartReason = iota // a warn or error finding
	ByBytes                      // among the --top flows by bytes
	ByCeiling                    // among the --top flows by smallest RWIN/RTT ceiling
	chartReasons
)

// Charted is what a flow's charts draw: its record, its findings (with
// evidence times as the analyzer keeps them) and its series.
type Charted struct {
	Rec    FlowRecord
	Find   []rules.Finding
	Series *analyze.Series
	Shift  [2]analyze.Shift // client's, server's
	RTT    time.Duration    // PathRTT
}

// htmlFlow is a flow that may be charted or listed among the worst: its
// record and, while it is a chart candidate, its series.
type htmlFlow struct {
	Charted
	rank    int
	bytes   uint64
	ceiling float64 // smallest RWIN/RTT ceiling of a direction with data, bit/s; 0 if none
	reasons uint8   // bit per ChartReason it is a candidate for
}

// NewHTML returns the HTML sink writing the page to w; top is --top.
func NewHTML(w io.Writer, top int) *HTML {
	return &HTML{w: w, top: top, budget: analyze.NewSeriesBudget(HTMLSeriesBytes), findings: map[string]*findingGroup{}}
}

// SeriesBudget is the budget the reader records the flows' series from.
func (h *HTML) SeriesBudget() *analyze.SeriesBudget { return h.budget }

// Flow keeps what the page shows of a flow: a row, its findings, and
// while it is a chart candidate its series; a series it does not keep
// goes back to the budget.
func (h *HTML) Flow(_ int, rf *Flow) {
	f, found, file, s := rf.Facts, rf.Findings, rf.File, rf.Series
	hf := &htmlFlow{rank: rf.Rank(), bytes: rf.Bytes(),
		Charted: Charted{RTT: rf.RTT, Shift: [2]analyze.Shift{f.Client.Shift, f.Server.Shift}}}
	hf.ceiling, _ = rf.Ceiling()
	warned := len(found) > 0 && found[0].Severity >= rules.Warn

	h.mu.Lock()
	defer h.mu.Unlock()
	h.addRow(rf, hf.rank)
	for i := range found {
		h.addFinding(file, f.ID, &found[i])
	}
	worst := false
	if warned {
		h.worst = keepBest(h.worst, hf, htmlWorst, worseFlow)
		worst = slices.Contains(h.worst, hf)
	}
	hf.Series = s
	if s != nil {
		if warned {
			h.candidate(hf, ByFinding, HTMLFindingFlows, worseFlow)
		}
		if hf.bytes > 0 {
			h.candidate(hf, ByBytes, h.top, func(a, b *htmlFlow) bool { return a.bytes > b.bytes })
		}
		if hf.ceiling > 0 {
			h.candidate(hf, ByCeiling, h.top, func(a, b *htmlFlow) bool { return a.ceiling < b.ceiling })
		}
	}
	if hf.reasons == 0 {
		h.budget.Free(s)
		hf.Series = nil
	}
	if worst || hf.reasons != 0 {
		// Kept, for now: the record is what the page renders of it.
		hf.Rec, hf.Find = rf.Record(), found
	}
}

// EndInput does nothing: the page is written whole at Close.
func (h *HTML) EndInput(int, *Input) {}

// Close writes the page.
func (h *HTML) Close(run *Run) error {
	return renderHTML(h.w, h.page(run.Inputs))
}

// worseFlow orders flows for "worst first": by their most severe finding,
// then by bytes.
func worseFlow(a, b *htmlFlow) bool {
	return a.rank > b.rank || a.rank == b.rank && a.bytes > b.bytes
}

// candidate offers hf as a chart of the given reason, keeping the n best;
// a flow no reason keeps any more hands its series back.
func (h *HTML) candidate(hf *htmlFlow, why ChartReason, n int, better func(a, b *htmlFlow) bool) {
	before := h.charts[why]
	after := keepBest(before, hf, n, better)
	h.charts[why] = after
	if len(after) > 0 && slices.Contains(after, hf) {
		hf.reasons |= 1 << why
	}
	for _, old := range before {
		if !slices.Contains(after, old) {
			old.reasons &^= 1 << why
			if old.reasons == 0 {
				h.budget.Free(old.Series)
				old.Series = nil
			}
		}
	}
}

// keepBest adds x to list, sorted best first, keeping at most n.
func keepBest(list []*htmlFlow, x *htmlFlow, n int, better func(a, b *htmlFlow) bool) []*htmlFlow {
	if n <= 0 || len(list) == n && !better(x, list[n-1]) {
		return list
	}
	i, _ := slices.BinarySearchFunc(list, x, func(e, t *htmlFlow) int {
		if better(e, t) {
			return -1
		}
		return 1
	})
	list = slices.Insert(slices.Clone(list), i, x)
	if len(list) > n {
		list = list[:n]
	}
	return list
}

func (h *HTML) addFinding(file string, id uint64, x *rules.Finding) {
	g := h.findings[x.ID]
	if g == nil {
		g = &findingGroup{severity: x.Severity}
		h.findings[x.ID] = g
	}
	g.flows++
	if len(g.examples) < HTMLExamples {
		rec := NewFindingRec(x, EvidenceRecords(x.Evidence))
		if len(g.examples) == 0 {
			g.rec = rec
		}
		g.examples = append(g.examples, findingExample{file: file, id: id, rec: rec})
	}
}

// addRow lists a flow, or leaves out the least important one once
// MaxHTMLRows are listed: the rows are then a heap with that one on top,
// and a flow that would not displace it is not rendered at all (a SYN
// flood of a million flows rendered a million rows to drop).
func (h *HTML) addRow(f *Flow, rank int) {
	if len(h.rows) < MaxHTMLRows {
		h.rows = append(h.rows, newHTMLRow(f, rank))
		if len(h.rows) == MaxHTMLRows {
			heap.Init(&h.rows)
		}
		return
	}
	h.unlisted++
	if rank > h.rows[0].rank {
		h.rows[0] = newHTMLRow(f, rank)
		heap.Fix(&h.rows, 0)
	}
}

// htmlRows is a heap of rows, the least important on top.
type htmlRows []htmlRow

func (h htmlRows) Len() int           { return len(h) }
func (h htmlRows) Less(i, j int) bool { return h[i].rank < h[j].rank }
func (h htmlRows) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *htmlRows) Push(x any)        { *h = append(*h, x.(htmlRow)) }
func (h *htmlRows) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// plain renders the table's cells without color.
var plain = NewPalette(false)

var nan = math.NaN()

// htmlColumns are the flow table's columns, the text table's.
var htmlColumns = []string{"ID", "Client → server", "Service", "Handshake", "Scale c/s", "RWIN client",
	"RWIN server", "RTT", "c→s", "s→c", "Findings"}

func newHTMLRow(rf *Flow, rank int) htmlRow {
	f, found, file := rf.Facts, rf.Findings, rf.File
	cells := strings.Split(strings.TrimSpace(Row(plain, rf)), "\t")
	keys := make([]float64, len(cells))
	for i := range keys {
		keys[i] = nan
	}
	median := func(e *analyze.Endpoint) float64 {
		if win, ok := e.MedianWindow(); ok {
			return float64(win)
		}
		if e.Window.Samples == 0 {
			return -1
		}
		return float64(e.Window.Max) // raw: the shift is unknown
	}
	thr := func(s *Side) float64 {
		if s.GoodputKnown {
			return s.Goodput
		}
		return -1
	}
	keys[0], keys[5], keys[6] = float64(f.ID), median(&f.Client), median(&f.Server)
	keys[7], keys[8], keys[9], keys[10] = float64(f.PathRTT()), thr(&rf.Client), thr(&rf.Server), float64(rank)
	if f.PathRTT() == 0 {
		keys[7] = -1
	}
	r := htmlRow{file: file, id: f.ID, rank: rank, cells: cells, keys: keys}
	if len(found) > 0 {
		r.sev = found[0].Severity.String()
	}
	return r
}
