package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	_ "embed"

	"rwin/analyze"
	"rwin/analyze/pathdiff"
	"rwin/rules"
)

// The HTML report of rwin diff (--format html): the page of rwin read's
// report, for pairs. Its tables and findings are HTML; for each pair worth
// a look (a warn or error finding, or among the --top pairs by bytes) it
// draws both captures' view of each direction on one time line, capture
// B's times moved by the clock offset the diff measured, so that what one
// capture point saw sits above what the other saw at the same moment.

//go:embed diff.html
var diffPageTemplate string

var diffPageTmpl = NewPageTemplate("diff", diffPageTemplate)

// htmlMaxUnpaired bounds the flows listed per capture as seen there only.
const htmlMaxUnpaired = 200

// diffPage is what the diff template renders.
type diffPage struct {
	Title    string
	Summary  diffSummaryRecord
	Files    [2]diffFileView
	Clock    string
	Findings []diffFindingView
	Charts   []diffChartView
	Columns  []string
	Rows     []RowView
	Unlisted int
	Unpaired [2]unpairedView
	Data     template.JS
	PageAssets
}

type diffFileView struct {
	Name string
	FileSummary
}

type diffFindingView struct {
	ID, Name, Severity, Confidence, Advice string
	Pairs                                  int
	Examples                               []diffExampleView
}

type diffExampleView struct {
	Anchor, Label, Summary string
	Evidence               []diffEvidenceRecord
	pair                   int
}

type diffChartView struct {
	Anchor, Title, Why string
	Flows              [2]string // each capture's flow: "flow 3: client → server"
	Path, Segments     [2]string // per direction (client→server, server→client)
	RWIN               [2]string // client's, server's window as granted and believed
	Findings           []diffFindingRecord
	Dirs               []diffDirView
	Note               string
}

type diffDirView struct {
	Label  string
	Charts []string // data-chart keys, A's and B's chart of each kind in turn
	Note   string
}

type unpairedView struct {
	Capture string
	Count   int
	Flows   []diffUnpairedRecord
}

// diffChartData is one capture's charts of one direction of a pair: the
// data rwin read's charts draw, titled with the capture, and the x range
// both captures' charts open on.
type diffChartData struct {
	*ChartData
	Capture string  `json:"capture"`
	X0      float64 `json:"x0"`
	X1      float64 `json:"x1"`
}

// diffColumns are the pair table's columns.
var diffColumns = []string{"Pair", "A: client → server", "B: client → server", "Confidence", "NAT",
	"Path c→s", "Path s→c", "Vanished", "Findings"}

// charted is a pair the report draws, and why.
type charted struct {
	rec     *DiffPairRecord
	rank    int
	bytes   uint64
	reasons uint8 // bits of ChartReason: ByFinding, ByBytes
}

// pairRank orders pairs by their most severe finding: 0 without one, 2
// per severity level above that (as rankOf ranks flows).
func pairRank(r *DiffPairRecord) int {
	rank := 0
	for _, x := range r.find {
		rank = max(rank, 2*(int(x.Severity)+1))
	}
	return rank
}

// diffHTML gathers, as the diff hands over its pairs, what the report
// page shows of them: the pairs to chart (copies of their flows), the
// table's most notable rows, each rule's findings with a few examples.
// Everything it keeps is bounded by the page's own limits, not by the
// number of pairs.
type diffHTML struct {
	top   int
	open  [2]analyze.Opener
	cfg   analyze.Config
	worst []*charted // pairs with a warn or error finding, worst first
	big   []*charted // the top pairs by bytes
	rows  []pairRow  // at most 2×MaxHTMLRows: trimmed as they come
	pairs int
	find  map[string]*diffFindingView
	sev   map[string]rules.Severity
}

// pairRow is a row of the pair table and how notable its pair is.
type pairRow struct {
	pair, rank int
	row        RowView
}

func newDiffHTML(top int, open [2]analyze.Opener, cfg analyze.Config) *diffHTML {
	return &diffHTML{top: top, open: open, cfg: cfg, find: map[string]*diffFindingView{}, sev: map[string]rules.Severity{}}
}

// worseCharted orders charted pairs worst first: by finding, by bytes,
// then in pair order.
func worseCharted(a, b *charted) int {
	return cmp.Or(b.rank-a.rank, cmp.Compare(b.bytes, a.bytes), a.rec.Pair-b.rec.Pair)
}

// biggerCharted orders charted pairs by bytes, then in pair order.
func biggerCharted(a, b *charted) int {
	return cmp.Or(cmp.Compare(b.bytes, a.bytes), a.rec.Pair-b.rec.Pair)
}

// keepsAt is where c goes in list (ordered by order, at most n long), or
// -1 when it does not make the cut.
func keepsAt(list []*charted, c *charted, n int, order func(a, b *charted) int) int {
	i, _ := slices.BinarySearchFunc(list, c, order)
	if i >= n {
		return -1
	}
	return i
}

// pair takes one pair as the diff hands it over. rec and the flows it
// points at are valid only during the call.
func (d *diffHTML) pair(rec *DiffPairRecord) {
	d.pairs++
	rank := pairRank(rec)
	d.rows = append(d.rows, pairRow{pair: rec.Pair, rank: rank, row: pairRowOf(rec)})
	if len(d.rows) >= 2*MaxHTMLRows {
		d.trimRows()
	}
	for j, x := range rec.find {
		v := d.find[x.ID]
		if v == nil {
			v = &diffFindingView{ID: x.ID, Name: x.Name, Severity: x.Severity.String(),
				Confidence: x.Confidence.String(), Advice: x.Advice}
			d.find[x.ID] = v
			d.sev[x.ID] = x.Severity
		}
		v.Pairs++
		// The first pairs in pair order are the examples, whatever order
		// the pairs finish in.
		ex := diffExampleView{pair: rec.Pair, Label: fmt.Sprintf("pair %d", rec.Pair), Summary: x.Summary,
			Evidence: rec.Findings[j].Evidence}
		i, _ := slices.BinarySearchFunc(v.Examples, ex, func(a, b diffExampleView) int { return a.pair - b.pair })
		if i < HTMLExamples {
			v.Examples = slices.Insert(v.Examples, i, ex)
			v.Examples = v.Examples[:min(len(v.Examples), HTMLExamples)]
		}
	}
	// The bytes either capture saw: data may vanish before the other.
	c := &charted{rec: rec, rank: rank,
		bytes: max(rec.fa.Client.Bytes+rec.fa.Server.Bytes, rec.fb.Client.Bytes+rec.fb.Server.Bytes)}
	if c.bytes == 0 {
		return
	}
	wi := -1
	if c.rank >= 2*(int(rules.Warn)+1) {
		wi = keepsAt(d.worst, c, HTMLFindingFlows, worseCharted)
	}
	bi := keepsAt(d.big, c, d.top, biggerCharted)
	if wi < 0 && bi < 0 {
		return
	}
	// Kept: the pair's flows outlive the call.
	kept := *rec
	p, fa, fb := *rec.p, *rec.fa, *rec.fb
	kept.p, kept.fa, kept.fb = &p, &fa, &fb
	c.rec = &kept
	if wi >= 0 {
		d.worst = slices.Insert(d.worst, wi, c)
		d.worst = d.worst[:min(len(d.worst), HTMLFindingFlows)]
	}
	if bi >= 0 {
		d.big = slices.Insert(d.big, bi, c)
		d.big = d.big[:min(len(d.big), d.top)]
	}
}

// trimRows keeps the MaxHTMLRows most notable rows: the highest rank
// first, then pair order.
func (d *diffHTML) trimRows() {
	slices.SortFunc(d.rows, func(a, b pairRow) int { return cmp.Or(b.rank-a.rank, a.pair-b.pair) })
	d.rows = d.rows[:min(len(d.rows), MaxHTMLRows)]
}

// charted returns the pairs to draw, worst first, and why each is drawn.
func (d *diffHTML) charted() []*charted {
	out := slices.Clone(d.worst)
	for _, c := range out {
		c.reasons |= 1 << ByFinding
	}
	for _, c := range d.big {
		c.reasons |= 1 << ByBytes
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, worseCharted)
	return out
}

// write writes the diff's report page. It reads both captures once more
// for the charted pairs' series.
func (d *diffHTML) write(w io.Writer, files [2]string, h *pathdiff.Head, sum *diffSummaryRecord, unpaired [2][]diffFlowRef) error {
	charts := d.charted()
	var want [2][]*analyze.Flow
	for _, c := range charts {
		want[0] = append(want[0], c.rec.fa)
		want[1] = append(want[1], c.rec.fb)
	}
	series, err := diffSeries(d.open, d.cfg, want)
	if err != nil {
		return err
	}
	p := &diffPage{Summary: *sum, Columns: diffColumns,
		Title:      fmt.Sprintf("rwin diff: %s ⇄ %s", files[0], files[1]),
		PageAssets: Assets}
	for i := range 2 {
		p.Files[i] = diffFileView{Name: strings.ToUpper(captureKey(i)), FileSummary: sum.Files[i]}
	}
	offset := int64(0)
	if h.ClockPairs > 0 {
		offset = int64(h.ClockOffset)
		p.Clock = fmt.Sprintf("B's clock − A's: %+.3f ms (measured on %s); B's times in the charts are moved by it",
			Millis(h.ClockOffset), Plural(h.ClockPairs, "flow pair"))
	} else {
		p.Clock = "B's clock − A's: unknown (no pair sure enough to measure it); the charts show B's times as captured"
	}
	chartOf := map[int]bool{}
	data := map[string]any{}
	for _, c := range charts {
		chartOf[c.rec.Pair] = true
		p.Charts = append(p.Charts, diffChartsOf(c, series, offset, data))
	}
	js, _ := json.Marshal(data) // escapes <, > and &: safe in a script element
	p.Data = template.JS(js)
	p.Findings = d.findingViews(chartOf)
	d.trimRows()
	slices.SortFunc(d.rows, func(a, b pairRow) int { return a.pair - b.pair })
	for _, r := range d.rows {
		p.Rows = append(p.Rows, r.row)
	}
	p.Unlisted = d.pairs - len(d.rows)
	for i := range 2 {
		u := unpairedView{Capture: strings.ToUpper(captureKey(i)), Count: len(unpaired[i])}
		for _, ref := range unpaired[i][:min(len(unpaired[i]), htmlMaxUnpaired)] {
			u.Flows = append(u.Flows, unpairedRecord(i, ref))
		}
		p.Unpaired[i] = u
	}
	return diffPageTmpl.Execute(w, p)
}

func pairAnchor(n int) string { return "p" + strconv.Itoa(n) }

// pairLink links a pair to its charts when it has them, else to its row.
func pairLink(charted map[int]bool, n int) string {
	if charted[n] {
		return pairAnchor(n)
	}
	return "row-" + pairAnchor(n)
}

// findingViews lists the findings by rule, most severe first, with a few
// pairs as examples each.
func (d *diffHTML) findingViews(chartOf map[int]bool) []diffFindingView {
	var out []diffFindingView
	for _, v := range d.find {
		for i := range v.Examples {
			v.Examples[i].Anchor = pairLink(chartOf, v.Examples[i].pair)
		}
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b diffFindingView) int {
		return cmp.Or(int(d.sev[b.ID])-int(d.sev[a.ID]), b.Pairs-a.Pairs, cmp.Compare(a.ID, b.ID))
	})
	return out
}

// pairRowOf renders a pair's row of the pair table.
func pairRowOf(r *DiffPairRecord) RowView {
	pr := r.p
	vanished := uint64(0)
	for d := range pr.Dirs {
		if up := pr.Dirs[d].Upstream; up != analyze.CaptureUnknown {
			vanished += pr.Dirs[d].OnlyData[up]
		}
	}
	nat := "no"
	if pr.NAT {
		nat = "yes"
	}
	var found []string
	sev := ""
	for _, x := range r.find {
		found = append(found, x.Severity.String()+" "+x.ID)
		if sev == "" {
			sev = x.Severity.String()
		}
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	cells := []CellView{
		{Text: strconv.Itoa(r.Pair), Key: num(float64(r.Pair))},
		{Text: fmt.Sprintf("flow %d: %s → %s", r.A.ID, r.A.Client, r.A.Server)},
		{Text: fmt.Sprintf("flow %d: %s → %s", r.B.ID, r.B.Client, r.B.Server)},
		{Text: fmt.Sprintf("%s (%.2f)", pr.Confidence, pr.Score), Key: num(pr.Score)},
		{Text: nat},
		{Text: pathText(&pr.Dirs[analyze.ClientToServer])},
		{Text: pathText(&pr.Dirs[analyze.ServerToClient])},
		{Text: strconv.FormatUint(vanished, 10), Key: num(float64(vanished))},
		{Text: strings.Join(found, ", "), Key: num(float64(pairRank(r)))},
	}
	return RowView{Anchor: "row-" + pairAnchor(r.Pair), Severity: sev, Cells: cells}
}

// diffChartsOf lays out one pair's charts and adds their data to data.
func diffChartsOf(c *charted, series [2]map[flowKey]*analyze.Series, offset int64, data map[string]any) diffChartView {
	r := c.rec
	pr := r.p
	anchor := pairAnchor(r.Pair)
	cv := diffChartView{Anchor: anchor, Title: fmt.Sprintf("pair %d: %s → %s", r.Pair, r.A.Client, r.A.Server),
		Why: ChartWhy(c.reasons), Findings: r.Findings}
	for i, ref := range []diffFlowRef{r.A, r.B} {
		cv.Flows[i] = fmt.Sprintf("%s flow %d: %s → %s, packets %d–%d", strings.ToUpper(captureKey(i)), ref.ID,
			ref.Client, ref.Server, ref.FirstPacket, ref.LastPacket)
	}
	for d, name := range []string{"client", "server"} {
		cv.Path[d] = pathText(&pr.Dirs[d])
		cv.Segments[d] = segmentsText(&pr.Dirs[d])
		cv.RWIN[d] = rwinViewText(name, r.RWIN[name], pr, analyze.Direction(d))
	}
	flows := [2]*analyze.Flow{r.fa, r.fb}
	files := [2]string{r.A.File, r.B.File}
	var hf [2]*Charted
	for i := range 2 {
		s := series[i][keyOfFlow(flows[i])]
		if s == nil {
			continue
		}
		f := flows[i]
		rf := NewFlow(files[i], f, nil)
		hf[i] = &Charted{Rec: rf.Record(), Series: s, RTT: f.PathRTT(),
			Shift: [2]analyze.Shift{f.Client.Shift, f.Server.Shift}}
		// The diff's findings, by ID, say whether scaling is in question
		// (DirectionData then draws the raw window field too).
		for _, x := range r.find {
			hf[i].Rec.Findings = append(hf[i].Rec.Findings, FindingRecord{ID: x.ID})
		}
	}
	if hf[0] == nil && hf[1] == nil {
		cv.Note = "No time series: the report's memory budget for series was spent."
		return cv
	}
	// dirOf maps direction d of A's roles to capture i's: B's flow may
	// have client and server the other way round.
	dirOf := func(i, d int) int {
		if analyze.Capture(i) == analyze.CaptureB && pr.Swapped {
			return 1 - d
		}
		return d
	}
	for d, side := range []struct{ sender, receiver string }{{"client", "server"}, {"server", "client"}} {
		// A direction is drawn when either capture saw its data: where the
		// other saw none (it vanished on the path), that capture's chart
		// still shows the receiver's window.
		if dir := analyze.Direction(d); pr.Sender(dir, analyze.CaptureA, r.fa, r.fb).DataPackets == 0 && pr.Sender(dir, analyze.CaptureB, r.fa, r.fb).DataPackets == 0 {
			continue
		}
		var per [2]*diffChartData
		for i := range 2 {
			if hf[i] == nil {
				continue
			}
			bd := dirOf(i, d)
			cd := DirectionData(hf[i], bd, anchor, [2]string{"client", "server"}[1-bd])
			shift := int64(0)
			if analyze.Capture(i) == analyze.CaptureB {
				shift = offset
			}
			markDiffEvidence(cd, hf[i].Series, r.find, i, d)
			for k := range cd.T {
				cd.T[k] -= float64(shift) / 1e9
			}
			per[i] = &diffChartData{ChartData: cd, Capture: strings.ToUpper(captureKey(i))}
		}
		if per[0] == nil && per[1] == nil {
			continue
		}
		x0, x1 := math.Inf(1), math.Inf(-1)
		for _, cd := range per {
			if cd != nil && len(cd.T) > 0 {
				x0 = min(x0, cd.T[0])
				x1 = max(x1, cd.T[len(cd.T)-1]+float64(cd.Width)/1e9)
			}
		}
		dv := diffDirView{Label: fmt.Sprintf("%s → %s: %s's data, %s's window, as A and as B saw them",
			side.sender, side.receiver, side.sender, side.receiver)}
		for _, kind := range ChartKinds {
			for i, cd := range per {
				if cd == nil {
					if kind == "win" {
						dv.Note = fmt.Sprintf("No time series of capture %s's flow: the report's memory budget for series was spent.", strings.ToUpper(captureKey(i)))
					}
					continue
				}
				if kind == "rtt" && !slices.ContainsFunc(cd.RTTMin, func(v float64) bool { return !math.IsNaN(v) }) {
					continue
				}
				cd.X0, cd.X1 = x0, x1
				key := fmt.Sprintf("%s-%s/%d", anchor, captureKey(i), d)
				data[key] = cd
				dv.Charts = append(dv.Charts, key+"/"+kind)
			}
		}
		cv.Dirs = append(cv.Dirs, dv)
	}
	// The direction that carried more data first: it is the one to look at.
	sent := func(d analyze.Direction) uint64 {
		return max(pr.Sender(d, analyze.CaptureA, r.fa, r.fb).Bytes, pr.Sender(d, analyze.CaptureB, r.fa, r.fb).Bytes)
	}
	if len(cv.Dirs) == 2 && sent(analyze.ServerToClient) > sent(analyze.ClientToServer) {
		cv.Dirs[0], cv.Dirs[1] = cv.Dirs[1], cv.Dirs[0]
	}
	if len(cv.Dirs) == 0 {
		cv.Note = "No data segments in either direction: nothing to chart."
	}
	return cv
}

// markDiffEvidence marks on capture c's chart of direction d (A's roles)
// the packets the pair's findings cite, at their time in that capture.
func markDiffEvidence(cd *ChartData, s *analyze.Series, found []rules.DiffFinding, c, d int) {
	n := len(cd.T)
	for _, x := range found {
		if x.Direction != analyze.BothDirections && x.Direction != analyze.Direction(d) {
			continue
		}
		for _, e := range x.Pairs {
			ref := e.A
			if analyze.Capture(c) == analyze.CaptureB {
				ref = e.B
			}
			if ref.Packet == 0 {
				continue
			}
			i := max(s.At(ref.Time), 0)
			if i >= n {
				continue
			}
			cd.MarkEvidence(i, fmt.Sprintf("%s #%d %s (%s)", strings.ToUpper(captureKey(c)), ref.Packet, e.What, x.ID))
		}
	}
}
