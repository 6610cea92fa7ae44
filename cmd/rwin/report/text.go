package report

import (
	"bufio"
	"cmp"
	"container/heap"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"rwin/rules"
)

// MaxListed bounds the flows the text table lists per input: past it the
// table keeps the flows with the most severe findings, then those that
// completed a handshake or carried data (the connections behind a SYN
// flood), the earliest first among equals, and says how many it left out.
// --format ndjson lists every flow in constant memory.
const MaxListed = 100_000

// worstMinRows is how many rows a table must have before a "worst flows"
// block precedes it: a shorter table is its own first screen.
const worstMinRows = 20

// maxWorstFlagged bounds the flows with warn or error findings the worst
// flows block names; the table and -v show the rest.
const maxWorstFlagged = 20

// TextOptions shape the text report.
type TextOptions struct {
	Palette      Palette
	Verbose      bool    // a detail block per flow
	Sort         SortKey // the table's order
	FindingsOnly bool    // list only flows with findings
	// Top is how many flows with the smallest RWIN/RTT ceiling the worst
	// flows block names besides the flagged ones.
	Top int
	// Stream writes each flow as it finishes, in fixed-width columns
	// (rwin live), instead of one table per input at the end.
	Stream bool
	// Limit is the listing bound, MaxListed when 0.
	Limit int
}

// Text is the sink of the text report. Each input's table is sorted and
// measured on the input's own goroutine when the input ends; the report
// is written at Close, once rwin read has cleared its progress line from
// the terminal the report goes to.
type Text struct {
	o      TextOptions
	w      *bufio.Writer
	mu     sync.Mutex // inputs, and w in stream mode
	inputs []*textInput
	err    error // stream mode: the first write error
}

// textInput is what the text report keeps of one input: at most Limit
// rows, and the few flows of its worst flows block.
type textInput struct {
	mu       sync.Mutex
	chunks   [][]listed // the rows, until the listing bound is reached
	listed   int        // how many
	rows     listHeap   // the rows from then on, least important on top
	full     bool
	unlisted int         // flows past the listing bound
	hidden   int         // flows --findings-only left out
	flagged  []worstFlow // the worst of the flagged flows
	nflagged int         // all the flagged flows
	slowest  []worstFlow // smallest ceilings
	// Once the input ended: its rows in the table's order, their lines
	// and the table's column widths, for Close to write.
	ended  bool
	sorted []*listed
	lines  []string
	widths []int
}

// listed is one row of the table.
type listed struct {
	id      uint64
	rank    int
	ceiling float64 // 0: unknown
	window  uint64
	winOK   bool
	bytes   uint64
	rtt     time.Duration
	row     string // cells, tab-separated
	detail  string // -v
}

// worstFlow is one line of the worst flows block.
type worstFlow struct {
	id      uint64
	rank    int
	ceiling float64 // 0: unknown
	line    string  // cells, tab-separated
}

// NewText returns the text sink writing to w.
func NewText(w io.Writer, o TextOptions) *Text {
	if o.Limit == 0 {
		o.Limit = MaxListed
	}
	return &Text{o: o, w: bufio.NewWriterSize(w, 64<<10)}
}

func (t *Text) input(in int) *textInput {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.inputs) <= in {
		t.inputs = append(t.inputs, &textInput{})
	}
	return t.inputs[in]
}

// Flow lists the flow, or in stream mode writes it.
func (t *Text) Flow(in int, f *Flow) {
	if t.o.Stream {
		t.stream(f)
		return
	}
	ti := t.input(in)
	if t.o.FindingsOnly && len(f.Findings) == 0 {
		ti.mu.Lock()
		ti.hidden++
		ti.mu.Unlock()
		return
	}
	l := listed{id: f.Facts.ID, rank: f.Rank(), bytes: f.Bytes(), rtt: f.RTT}
	l.ceiling, _ = f.Ceiling()
	l.window, l.winOK = f.SmallestWindow()
	ti.mu.Lock()
	row := !ti.full || l.before(&ti.rows[0])
	flagged := f.Flagged() && admits(ti.flagged, maxWorstFlagged, worstFlow{id: l.id, rank: l.rank, ceiling: l.ceiling}, worseFlagged)
	slow := l.ceiling > 0 && admits(ti.slowest, t.o.Top, worstFlow{id: l.id, ceiling: l.ceiling}, slower)
	if !row {
		ti.unlisted++
	}
	if f.Flagged() {
		ti.nflagged++
	}
	ti.mu.Unlock()
	if !row && !flagged && !slow {
		return
	}
	// Rendered outside the lock: other flows of the input go on meanwhile.
	if row {
		l.row = Row(t.o.Palette, f)
		if t.o.Verbose {
			var b strings.Builder
			writeDetail(&b, t.o.Palette, f)
			l.detail = b.String()
		}
	}
	var wf worstFlow
	if flagged || slow {
		wf = worstFlow{id: l.id, rank: l.rank, ceiling: l.ceiling, line: worstLine(t.o.Palette, f)}
	}
	ti.mu.Lock()
	defer ti.mu.Unlock()
	if row {
		ti.list(l, t.o.Limit)
	}
	if flagged {
		ti.flagged = keep(ti.flagged, maxWorstFlagged, wf, worseFlagged)
	}
	if slow {
		ti.slowest = keep(ti.slowest, t.o.Top, wf, slower)
	}
}

// rowChunk is how many rows a chunk holds. Rows are kept in chunks until
// the bound, not in one slice: its copies at each doubling were a fifth of
// the text report's peak RSS on the benchmark capture.
const rowChunk = 1024

// list adds a row, dropping the least important past limit.
func (ti *textInput) list(l listed, limit int) {
	switch {
	case !ti.full:
		if n := len(ti.chunks); n == 0 || len(ti.chunks[n-1]) == rowChunk {
			ti.chunks = append(ti.chunks, make([]listed, 0, rowChunk))
		}
		last := &ti.chunks[len(ti.chunks)-1]
		*last = append(*last, l)
		if ti.listed++; ti.listed == limit {
			ti.rows = slices.Concat(ti.chunks...)
			ti.chunks = nil
			heap.Init(&ti.rows)
			ti.full = true
		}
	case l.before(&ti.rows[0]):
		ti.rows[0] = l
		heap.Fix(&ti.rows, 0)
		ti.unlisted++
	default:
		ti.unlisted++
	}
}

// rowsKept returns the rows kept, in no order.
func (ti *textInput) rowsKept() []*listed {
	var rows []*listed
	for _, c := range append(ti.chunks, ti.rows) {
		for i := range c {
			rows = append(rows, &c[i])
		}
	}
	return rows
}

// EndInput sorts and measures the input's table, on the input's own
// goroutine.
func (t *Text) EndInput(in int, _ *Input) {
	if t.o.Stream {
		return
	}
	ti := t.input(in)
	ti.prepare(t.o.Sort, t.head())
	t.mu.Lock()
	defer t.mu.Unlock()
	ti.ended = true
}

// Close writes the report, each input's block in the order given, then
// the totals (or, in stream mode, the closing summary), and returns the
// first write error.
func (t *Text) Close(run *Run) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.o.Stream {
		if t.err != nil {
			return t.err
		}
		t.liveSummary(run)
		t.err = t.w.Flush()
		return t.err
	}
	for len(t.inputs) < len(run.Inputs) {
		t.inputs = append(t.inputs, &textInput{})
	}
	for i := range run.Inputs {
		ti := t.inputs[i]
		if !ti.ended { // EndInput was not called
			ti.prepare(t.o.Sort, t.head())
		}
		t.writeInput(i, ti, &run.Inputs[i])
	}
	w, p := t.w, t.o.Palette
	s := Summarize(run.Inputs)
	fmt.Fprintf(w, "\n%s %d packets, %d TCP, %s", p.Head.Sprint("total:"), s.Packets, s.TCP, Plural(s.Flows, "flow"))
	fmt.Fprintf(w, "; findings: %s\n", findingCounts(p, run.Inputs))
	return w.Flush()
}

// head is the table's heading.
func (t *Text) head() string { return tableHead(t.o.Palette) }

// prepare puts the input's rows in the table's order and measures its
// columns, the heading's included.
func (ti *textInput) prepare(k SortKey, head string) {
	ti.sorted = ti.rowsKept()
	sortRows(ti.sorted, k)
	ti.lines = make([]string, len(ti.sorted))
	for i, r := range ti.sorted {
		ti.lines[i] = r.row
	}
	ti.widths = columnWidths(head, ti.lines)
}

// writeInput writes input i's block: the blank line that parts it from
// the one before, its heading, worst flows, table and notes, and with -v
// each flow's details. It lets go of the rows.
func (t *Text) writeInput(i int, ti *textInput, in *Input) {
	w, p := t.w, t.o.Palette
	if i > 0 {
		fmt.Fprintln(w)
	}
	writeFileHeader(w, p, in)
	if in.Flows == 0 {
		fmt.Fprintln(w, p.Dim.Sprint("  no TCP flows"))
		return
	}
	if len(ti.sorted) > worstMinRows {
		t.writeWorst(ti)
	}
	writeColumns(w, ti.widths, t.head(), ti.lines)
	if ti.unlisted > 0 {
		fmt.Fprintf(w, "  %s\n", p.Warn.Sprintf("%d more flows not listed: the table keeps %d, those with the most severe findings and real connections first (--format ndjson lists every flow)",
			ti.unlisted, t.o.Limit))
	}
	if ti.hidden > 0 {
		fmt.Fprintf(w, "  %s\n", p.Dim.Sprintf("%s without findings not listed (--findings-only)", Plural(ti.hidden, "flow")))
	}
	if t.o.Verbose {
		for _, r := range ti.sorted {
			fmt.Fprintln(w)
			fmt.Fprint(w, r.detail)
		}
	}
	ti.chunks, ti.rows, ti.sorted, ti.lines = nil, nil, nil, nil
}

// SeverityText renders counts of findings per severity, the most severe
// first, each in its colour: "0 error, 2 warn, 5 info".
func SeverityText(p Palette, c *rules.SeverityCounts) string {
	return fmt.Sprintf("%s, %s, %s", p.Bad.Sprintf("%d error", c[rules.Error]), p.Warn.Sprintf("%d warn", c[rules.Warn]),
		p.Info.Sprintf("%d info", c[rules.Info]))
}

// findingCounts renders the findings of a run per severity, then per rule
// ID, the most frequent first.
func findingCounts(p Palette, inputs []Input) string {
	var sev rules.SeverityCounts
	byRule := map[string]int{}
	for i := range inputs {
		sev.Merge(&inputs[i].Severity)
		for id, n := range inputs[i].ByRule {
			byRule[id] += n
		}
	}
	s := SeverityText(p, &sev)
	if len(byRule) == 0 {
		return s
	}
	ids := make([]string, 0, len(byRule))
	for id := range byRule {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Or(byRule[b]-byRule[a], strings.Compare(a, b)) })
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%s %d", id, byRule[id])
	}
	return s + " (" + strings.Join(parts, ", ") + ")"
}

// writeWorst writes the worst flows block: the flows with warn or error
// findings, worst first, then those with the smallest RWIN/RTT ceilings,
// each with its one-line reason.
func (t *Text) writeWorst(ti *textInput) {
	w, p := t.w, t.o.Palette
	lines := make([]string, 0, len(ti.flagged)+len(ti.slowest))
	seen := map[uint64]bool{}
	for _, list := range [][]worstFlow{ti.flagged, ti.slowest} {
		for _, x := range list {
			if !seen[x.id] {
				seen[x.id] = true
				lines = append(lines, x.line)
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	what := []string{}
	if n := len(ti.flagged); n > 0 {
		what = append(what, Plural(n, "flow")+" with warn or error findings")
	}
	if n := len(ti.slowest); n > 0 {
		what = append(what, fmt.Sprintf("the %d smallest RWIN/RTT ceilings", n))
	}
	fmt.Fprintf(w, "  %s\n", p.Head.Sprintf("worst flows: %s", strings.Join(what, ", ")))
	writeAligned(w, "", lines)
	if more := ti.nflagged - len(ti.flagged); more > 0 {
		fmt.Fprintf(w, "  %s\n", p.Dim.Sprintf("… and %d more with warn or error findings (--sort findings lists them first)", more))
	}
	fmt.Fprintln(w)
}

// worstLine is a flow's line in the worst flows block: its ID, endpoints
// and one-line reason, the most severe finding's headline or its smallest
// ceiling.
func worstLine(p Palette, f *Flow) string {
	fc := f.Facts
	b := fmt.Appendf(nil, "  %d\t%s → %s\t", fc.ID, fc.Client.Addr, fc.Server.Addr)
	if f.Flagged() {
		x := &f.Findings[0]
		return string(b) + p.Severity(x.Severity).Sprintf("%s %s", x.Severity, x.ID) + ": " + headline(x.Summary)
	}
	dir, s, peer := "c→s", &f.Client, &fc.Server
	if f.Server.CeilingKnown && fc.Server.DataPackets > 0 && (!s.CeilingKnown || fc.Client.DataPackets == 0 || f.Server.Ceiling < s.Ceiling) {
		dir, s, peer = "s→c", &f.Server, &fc.Client
	}
	win, _ := peer.MedianWindow()
	b = fmt.Appendf(b, "RWIN/RTT ceiling %s %s (window %s over RTT %s)", ceiling(s.Ceiling), dir,
		appendSize(nil, win, !peer.Window.Estimated), rules.Duration(f.RTT))
	if s.Binds() == LimitLoss {
		b = fmt.Appendf(b, "; loss holds it lower, at %s", ceiling(s.LossCeiling))
	}
	return string(b)
}

// headline is a finding summary's first clause.
func headline(s string) string {
	if i := strings.IndexAny(s, ":;"); i > 0 {
		return s[:i]
	}
	return s
}

// worseFlagged orders the flagged flows: most severe first, then the
// smaller ceiling, then the earlier.
func worseFlagged(a, b *worstFlow) bool {
	if a.rank != b.rank {
		return a.rank > b.rank
	}
	if (a.ceiling > 0) != (b.ceiling > 0) {
		return a.ceiling > 0
	}
	if a.ceiling != b.ceiling {
		return a.ceiling < b.ceiling
	}
	return a.id < b.id
}

// slower orders flows by ceiling, the smallest first.
func slower(a, b *worstFlow) bool {
	return a.ceiling < b.ceiling || a.ceiling == b.ceiling && a.id < b.id
}

// admits reports whether keep would take x into list.
func admits(list []worstFlow, n int, x worstFlow, better func(a, b *worstFlow) bool) bool {
	return n > 0 && (len(list) < n || better(&x, &list[len(list)-1]))
}

// keep inserts x into list, kept sorted by better and at most n long.
func keep(list []worstFlow, n int, x worstFlow, better func(a, b *worstFlow) bool) []worstFlow {
	i, _ := slices.BinarySearchFunc(list, x, func(e, x worstFlow) int {
		if better(&e, &x) {
			return -1
		}
		return 1
	})
	list = slices.Insert(list, i, x)
	return list[:min(len(list), n)]
}

// writeFileHeader writes an input's heading and what it skipped or
// warned of.
func writeFileHeader(w io.Writer, p Palette, r *Input) {
	m := &r.Sum
	fmt.Fprintf(w, "%s  %d packets, %d TCP, %s", p.Head.Sprint(Shown(r.Name)), m.Packets, m.TCP, Plural(r.Flows, "flow"))
	if m.Packets > m.Untimed {
		fmt.Fprintf(w, ", %s", DurationString(time.Duration(m.LastTime-m.FirstTime)))
	}
	var skipped []string
	for _, s := range m.Skipped() {
		skipped = append(skipped, fmt.Sprintf("%d %s", s.N, s.Reason))
	}
	if len(skipped) > 0 {
		fmt.Fprintf(w, " %s", p.Dim.Sprintf("(skipped: %s)", strings.Join(skipped, ", ")))
	}
	fmt.Fprintln(w)
	if m.TruncOpts > 0 {
		fmt.Fprintf(w, "  %s\n", p.Dim.Sprintf("%d segments had options cut by the snaplen (header fields kept)", m.TruncOpts))
	}
	if m.Untimed > 0 {
		fmt.Fprintf(w, "  %s\n", p.Warn.Sprintf("%d packets carry no timestamp (pcapng simple packet blocks): durations and rates leave them out", m.Untimed))
	}
	writeUnanswered(w, p, &m.Unanswered)
	if m.Analyzer.Evicted > 0 {
		fmt.Fprintf(w, "  %s\n", p.Warn.Sprintf("flow table full: %d flows finished early (raise --max-flows)", m.Analyzer.Evicted))
	}
	if d := m.Analyzer.Duplicates; d > 0 {
		fmt.Fprintf(w, "  %s\n", p.Dim.Sprintf("%d duplicate packets (%.1f %%) ignored: copies the capture recorded twice (pktmon, SPAN, merged captures)",
			d, 100*float64(d)/float64(max(m.TCP, 1))))
	}
	if r.Err != nil {
		if m.CutShort() {
			fmt.Fprintf(w, "  %s\n", p.Bad.Sprintf("capture cut short: results cover the %d packets read", m.Packets))
		} else {
			fmt.Fprintf(w, "  %s\n", p.Bad.Sprint(OneLine(r.Err.Error())))
		}
	}
}

// WriteTable writes one row per flow, aligned.
func WriteTable(w io.Writer, p Palette, flows []Flow) {
	rows := make([]string, len(flows))
	for i := range flows {
		rows[i] = Row(p, &flows[i])
	}
	writeAligned(w, tableHead(p), rows)
}

// tableCells are the headings of the flow table, over the cells of Row.
var tableCells = []string{"ID", "CLIENT → SERVER", "SVC", "HANDSHAKE", "SCALE c/s", "RWIN client", "RWIN server", "RTT", "c→s", "s→c", "FINDINGS"}

// tableHead is the heading of the flow table, its cells tab-separated and
// each colored on its own, so the aligner measures them as the rows'.
func tableHead(p Palette) string {
	cells := make([]string, len(tableCells))
	for i, c := range tableCells {
		cells[i] = p.Head.Sprint(c)
	}
	return "  " + strings.Join(cells, "\t")
}

// writeAligned writes the heading (unless empty) and rows, tab-separated
// cells, with every cell but a line's last padded to its column's widest
// plus two spaces, as text/tabwriter would, except that a cell's width is
// what a terminal shows: ANSI color sequences take no room.
func writeAligned(out io.Writer, head string, rows []string) {
	writeColumns(out, columnWidths(head, rows), head, rows)
}

// columnWidths is the widest cell of each column of the heading and rows
// but the last of each line, as a terminal shows them.
func columnWidths(head string, rows []string) []int {
	var widths []int
	measure := func(line string) {
		for col := 0; ; col++ {
			cell, rest, more := strings.Cut(line, "\t")
			if !more {
				return
			}
			if col == len(widths) {
				widths = append(widths, 0)
			}
			widths[col] = max(widths[col], shownWidth(cell))
			line = rest
		}
	}
	if head != "" {
		measure(head)
	}
	for _, r := range rows {
		measure(r)
	}
	return widths
}

// writeColumns writes the heading (unless empty) and rows aligned on
// columnWidths' widths.
func writeColumns(out io.Writer, widths []int, head string, rows []string) {
	write := func(line string) {
		for col := 0; ; col++ {
			cell, rest, more := strings.Cut(line, "\t")
			io.WriteString(out, cell)
			if !more {
				io.WriteString(out, "\n")
				return
			}
			pad := widths[col] - shownWidth(cell) + padding
			if pad > len(spaces) {
				io.WriteString(out, strings.Repeat(" ", pad))
			} else {
				io.WriteString(out, spaces[:pad])
			}
			line = rest
		}
	}
	if head != "" {
		write(head)
	}
	for _, r := range rows {
		write(r)
	}
}

// padding is the room between columns; spaces, sliced, pads cells.
const padding = 2

var spaces = strings.Repeat(" ", 256)

// shownWidth is how many columns a terminal gives s: its runes, less the
// ANSI control sequences (ESC '[' parameters, then a final byte in
// 0x40–0x7E, ECMA-48 §5.4) that color it.
func shownWidth(s string) int {
	if strings.IndexByte(s, 0x1b) < 0 {
		return utf8.RuneCountInString(s)
	}
	n := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			i += 2
			for i < len(s) && (s[i] < 0x40 || s[i] > 0x7e) {
				i++
			}
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return n
}
