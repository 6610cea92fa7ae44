package main

import (
	"container/heap"
	"io"
	"math"
	"slices"
	"strings"
	"sync"

	"rwin/analyze"
	"rwin/capture"
	"rwin/cmd/rwin/report"
	"rwin/rules"
)

// The HTML report (--format html) gathers, as flows finish, what its page
// shows, in memory that does not grow with the flows: the table's rows (at
// most htmlMaxRows, the most important kept), the worst flows, a few
// examples of each finding, and the flows it charts with their time series
// (see analyze.Series), drawn from one budget for every input read.

// htmlMaxRows bounds the flow table: a capture of a million flows still
// gives a page a browser opens. The rows kept are the most important, as
// the text table's beyond maxListed.
var htmlMaxRows = 5_000 // a variable for tests

const (
	htmlWorst       = 15       // flows listed under "worst flows first"
	htmlExamples    = 8        // flows shown per finding
	htmlFindingFlow = 24       // flows with a warn or error finding that are charted
	htmlDefaultTop  = 5        // --top: flows charted by bytes and by smallest ceiling
	htmlSeriesBytes = 16 << 20 // budget of the time series recorded at once
)

// htmlReport is the --format html sink for every input of one run.
type htmlReport struct {
	top    int
	budget *analyze.SeriesBudget

	mu       sync.Mutex
	rows     htmlRows // bounded by htmlMaxRows, see addRow
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
	rec      findingRecord // the first; its advice stands for all
	severity rules.Severity
	flows    int
	examples []findingExample
}

// findingExample is one flow's finding of a group.
type findingExample struct {
	file string
	id   uint64
	rec  findingRecord
}

// chartReason is why a flow is charted.
type chartReason int

const (
	byFinding chartReason = iota // a warn or error finding
	byBytes                      // among the --top flows by bytes
	byCeiling                    // among the --top flows by smallest RWIN/RTT ceiling
	chartReasons
)

// htmlFlow is a flow that may be charted or listed among the worst: its
// record and, while it is a chart candidate, its series.
type htmlFlow struct {
	rec     flowRecord
	find    []rules.Finding // rec's findings, with evidence times as the analyzer keeps them
	series  *analyze.Series
	shift   [2]analyze.Shift // client's, server's
	rtt     int64            // PathRTT, ns
	rank    int
	bytes   uint64
	ceiling float64 // smallest RWIN/RTT ceiling of a direction with data, bit/s; 0 if none
	reasons uint8   // bit per chartReason it is a candidate for
}

func newHTMLReport(top int) *htmlReport {
	return &htmlReport{top: top, budget: analyze.NewSeriesBudget(htmlSeriesBytes), findings: map[string]*findingGroup{}}
}

// read analyzes one input for the report: the series are recorded for its
// flows, each evaluated and kept or dropped as it finishes. A worker
// evaluates and renders copies of the flows, in batches, while the
// analyzer goes on (see collector: the same split). ringLater says the
// input is a ring buffer's file after the first: read counts the flows
// that began without a SYN (noSYN), whose handshakes may be in the file
// before, and notes it in their records.
func (h *htmlReport) read(name string, src capture.Source, keep func(*capture.Packet) bool, cfg analyze.Config, res *fileResult, ringLater bool) (sum analyze.Summary, noSYN int) {
	rec := analyze.NewSeriesRecorder(h.budget)
	cfg.Series = rec
	type taken struct {
		f analyze.Flow
		s *analyze.Series
	}
	work := make(chan []taken, 4)
	free := make(chan []taken, 6) // batches handed back, for reuse
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range work {
			for i := range b {
				f := &b[i].f
				found := rules.Evaluate(f)
				res.Count(found)
				earlier := ringLater && !f.SYN.Seen
				if earlier {
					noSYN++
				}
				h.add(name, f, found, b[i].s, earlier)
			}
			select {
			case free <- b[:0]:
			default:
			}
		}
	}()
	var batch []taken
	sum = analyze.Run(src, keep, cfg, func(f *analyze.Flow) {
		if batch == nil {
			select {
			case batch = <-free:
			default:
				batch = make([]taken, 0, collectBatch)
			}
		}
		batch = append(batch, taken{*f, rec.Take(f.ID)})
		if len(batch) == collectBatch {
			work <- batch
			batch = nil
		}
	})
	if len(batch) > 0 {
		work <- batch
	}
	close(work)
	<-done
	return sum, noSYN
}

// add takes one finished flow and its series (nil if not recorded);
// earlier says its handshake may be in a ring buffer's earlier file.
func (h *htmlReport) add(file string, f *analyze.Flow, found []rules.Finding, s *analyze.Series, earlier bool) {
	rf := report.NewFlow(file, f, found)
	if earlier {
		rf.Notes = []string{"handshake-maybe-in-earlier-file"}
	}
	hf := &htmlFlow{rank: rf.Rank(), bytes: rf.Bytes(), rtt: int64(rf.RTT),
		shift: [2]analyze.Shift{f.Client.Shift, f.Server.Shift}}
	hf.ceiling, _ = rf.Ceiling()
	warned := len(found) > 0 && found[0].Severity >= rules.Warn

	h.mu.Lock()
	defer h.mu.Unlock()
	h.addRow(&rf, hf.rank)
	for i := range found {
		h.addFinding(file, f.ID, &found[i])
	}
	worst := false
	if warned {
		h.worst = keepBest(h.worst, hf, htmlWorst, worseFlow)
		worst = slices.Contains(h.worst, hf)
	}
	hf.series = s
	if s != nil {
		if warned {
			h.candidate(hf, byFinding, htmlFindingFlow, worseFlow)
		}
		if hf.bytes > 0 {
			h.candidate(hf, byBytes, h.top, func(a, b *htmlFlow) bool { return a.bytes > b.bytes })
		}
		if hf.ceiling > 0 {
			h.candidate(hf, byCeiling, h.top, func(a, b *htmlFlow) bool { return a.ceiling < b.ceiling })
		}
	}
	if hf.reasons == 0 {
		h.budget.Free(s)
		hf.series = nil
	}
	if worst || hf.reasons != 0 {
		// Kept, for now: the record is what the page renders of it.
		hf.rec, hf.find = rf.Record(), found
	}
}

// worseFlow orders flows for "worst first": by their most severe finding,
// then by bytes.
func worseFlow(a, b *htmlFlow) bool {
	return a.rank > b.rank || a.rank == b.rank && a.bytes > b.bytes
}

// candidate offers hf as a chart of the given reason, keeping the n best;
// a flow no reason keeps any more hands its series back.
func (h *htmlReport) candidate(hf *htmlFlow, why chartReason, n int, better func(a, b *htmlFlow) bool) {
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
				h.budget.Free(old.series)
				old.series = nil
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

func (h *htmlReport) addFinding(file string, id uint64, x *rules.Finding) {
	g := h.findings[x.ID]
	if g == nil {
		g = &findingGroup{severity: x.Severity}
		h.findings[x.ID] = g
	}
	g.flows++
	if len(g.examples) < htmlExamples {
		rec := newFindingRec(x, evidenceRecords(x.Evidence))
		if len(g.examples) == 0 {
			g.rec = rec
		}
		g.examples = append(g.examples, findingExample{file: file, id: id, rec: rec})
	}
}

// addRow lists a flow, or leaves out the least important one once
// htmlMaxRows are listed: the rows are then a heap with that one on top,
// and a flow that would not displace it is not rendered at all (a SYN
// flood of a million flows rendered a million rows to drop).
func (h *htmlReport) addRow(f *report.Flow, rank int) {
	if len(h.rows) < htmlMaxRows {
		h.rows = append(h.rows, newHTMLRow(f, rank))
		if len(h.rows) == htmlMaxRows {
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
var plain = newPalette(false)

var nan = math.NaN()

// htmlColumns are the flow table's columns, the text table's.
var htmlColumns = []string{"ID", "Client → server", "Service", "Handshake", "Scale c/s", "RWIN client",
	"RWIN server", "RTT", "c→s", "s→c", "Findings"}

func newHTMLRow(rf *report.Flow, rank int) htmlRow {
	f, found, file := rf.Facts, rf.Findings, rf.File
	cells := strings.Split(strings.TrimSpace(report.Row(plain.report, rf)), "\t")
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
	thr := func(s *report.Side) float64 {
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

// writeHTML writes the report page.
func (h *htmlReport) writeHTML(w io.Writer, results []fileResult) error {
	return renderHTML(w, h.page(results))
}

// openOutput opens -o's file as createOutput does (a new file, or with
// force an existing regular one; never through a symbolic link), or
// returns stdout when none is given. Its close function may be called more than once; only the first closes.
func openOutput(path string, force bool, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "" {
		return stdout, func() error { return nil }, nil
	}
	f, err := createOutput(path, 0o644, force)
	if err != nil {
		return nil, nil, err
	}
	var once sync.Once
	var closeErr error
	return f, func() error {
		once.Do(func() { closeErr = f.Close() })
		return closeErr
	}, nil
}
