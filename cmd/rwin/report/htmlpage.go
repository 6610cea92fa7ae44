package report

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The page is one file: its styles, uPlot (MIT, see report/uplot/LICENSE;
// `make uplot` refreshes it) and the report's own script are inlined, so
// it opens offline and makes no request. Everything but the charts is
// HTML the server side renders: it reads without JavaScript and prints.

var (
	//go:embed page.html
	pageTemplate string
	//go:embed common.html
	commonTemplate string
	//go:embed report.css
	reportCSS string
	//go:embed report.js
	reportJS string
	//go:embed uplot/uPlot.iife.min.js
	uplotJS string
	//go:embed uplot/uPlot.min.css
	uplotCSS string
	//go:embed uplot/LICENSE
	uplotLicense string
	//go:embed uplot/VERSION
	uplotVersion string
)

var pageTmpl = NewPageTemplate("page", pageTemplate)

// NewPageTemplate parses a report page with the parts every page shares.
func NewPageTemplate(name, text string) *template.Template {
	return template.Must(template.Must(template.New(name).Parse(text)).Parse(commonTemplate))
}

// PageAssets are what every report page inlines.
type PageAssets struct {
	CSS          template.CSS
	UPlotCSS     template.CSS
	UPlotJS      template.JS
	ReportJS     template.JS
	UPlotLicense string
	UPlotVersion string
}

// Assets are the report pages' styles and scripts.
var Assets = PageAssets{CSS: template.CSS(reportCSS), UPlotCSS: template.CSS(uplotCSS), UPlotJS: template.JS(uplotJS),
	ReportJS: template.JS(reportJS), UPlotLicense: uplotLicense, UPlotVersion: uplotVersion}

// htmlPage is what the template renders.
type htmlPage struct {
	Title    string
	Summary  SummaryRecord
	Worst    []worstView
	Findings []findingView
	Columns  []string
	Rows     []RowView
	Unlisted int
	Charts   []chartView
	Data     template.JS // the charts' data, JSON
	PageAssets
}

type worstView struct {
	Anchor, Label, Severity, Reason string
}

type findingView struct {
	ID, Name, Severity, Confidence, Advice string
	Flows                                  int
	Examples                               []exampleView
}

type exampleView struct {
	Anchor, Label, Summary string
	Evidence               []EvidenceRecord
}

// RowView is a row of a report's sortable table.
type RowView struct {
	Anchor, Severity string
	Cells            []CellView
}

// CellView is a table cell; Key, when set, is the number it sorts by.
type CellView struct {
	Text, Key string
}

type chartView struct {
	Anchor, Title, Why string
	Findings           []FindingRecord
	Dirs               []dirView
	Note               string // why a flow has no charts
}

type dirView struct {
	Label  string
	Charts []string // placeholders' data-chart keys
	Note   string   // a chart left out, and why
}

// ChartKinds are the charts drawn per direction of data.
var ChartKinds = []string{"win", "thr", "rtt"}

// page builds the report's view of what was gathered.
func (h *HTML) page(results []Input) *htmlPage {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := &htmlPage{Summary: Summarize(results), Columns: htmlColumns, Unlisted: h.unlisted, PageAssets: Assets}
	p.Title = "rwin report"
	fileIdx := map[string]int{}
	for i, r := range results {
		fileIdx[r.Name] = i
		if i == 0 {
			p.Title = "rwin report: " + r.Name
		}
	}
	if len(results) > 1 {
		p.Title = fmt.Sprintf("rwin report: %d captures", len(results))
	}
	multi := len(results) > 1
	anchor := func(file string, id uint64) string { return fmt.Sprintf("f%d-%d", fileIdx[file], id) }
	label := func(file string, id uint64) string {
		if multi {
			return fmt.Sprintf("%s flow %d", file, id)
		}
		return fmt.Sprintf("flow %d", id)
	}

	charted := map[*htmlFlow]bool{}
	var charts []*htmlFlow
	for _, list := range h.charts {
		for _, hf := range list {
			if !charted[hf] {
				charted[hf] = true
				charts = append(charts, hf)
			}
		}
	}
	slices.SortFunc(charts, func(a, b *htmlFlow) int {
		if worseFlow(a, b) {
			return -1
		}
		if worseFlow(b, a) {
			return 1
		}
		return 0
	})
	chartOf := map[string]bool{}
	data := map[string]*ChartData{}
	for _, hf := range charts {
		a := anchor(hf.Rec.File, hf.Rec.ID)
		chartOf[a] = true
		cv, cd := chartsOf(hf, a, label(hf.Rec.File, hf.Rec.ID))
		p.Charts = append(p.Charts, cv)
		for k, v := range cd {
			data[k] = v
		}
	}
	js, _ := json.Marshal(data) // escapes <, > and &: safe in a script element
	p.Data = template.JS(js)

	for _, hf := range h.worst {
		x := hf.Rec.Findings[0]
		p.Worst = append(p.Worst, worstView{Anchor: anchorFor(chartOf, anchor(hf.Rec.File, hf.Rec.ID)),
			Label:    label(hf.Rec.File, hf.Rec.ID) + " " + hf.Rec.Client + " → " + hf.Rec.Server,
			Severity: x.Severity, Reason: x.Summary})
	}
	groups := make([]*findingGroup, 0, len(h.findings))
	for _, g := range h.findings {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b *findingGroup) int {
		if a.severity != b.severity {
			return int(b.severity) - int(a.severity)
		}
		if a.flows != b.flows {
			return b.flows - a.flows
		}
		return cmp.Compare(a.rec.ID, b.rec.ID)
	})
	for _, g := range groups {
		fv := findingView{ID: g.rec.ID, Name: g.rec.Name, Severity: g.rec.Severity, Confidence: g.rec.Confidence,
			Advice: g.rec.Advice, Flows: g.flows}
		for _, e := range g.examples {
			fv.Examples = append(fv.Examples, exampleView{Anchor: anchorFor(chartOf, anchor(e.file, e.id)),
				Label: label(e.file, e.id), Summary: e.rec.Summary, Evidence: e.rec.Evidence})
		}
		p.Findings = append(p.Findings, fv)
	}

	rows := slices.Clone(h.rows)
	slices.SortFunc(rows, func(a, b htmlRow) int {
		if c := fileIdx[a.file] - fileIdx[b.file]; c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	for _, r := range rows {
		rv := RowView{Anchor: "row-" + anchor(r.file, r.id), Severity: r.sev}
		for i, c := range r.cells {
			cv := CellView{Text: c}
			if i < len(r.keys) && !math.IsNaN(r.keys[i]) {
				cv.Key = strconv.FormatFloat(r.keys[i], 'g', -1, 64)
			}
			rv.Cells = append(rv.Cells, cv)
		}
		p.Rows = append(p.Rows, rv)
	}
	return p
}

// anchorFor links a flow to its charts when it has them, else to its row.
func anchorFor(charted map[string]bool, a string) string {
	if charted[a] {
		return a
	}
	return "row-" + a
}

// renderHTML executes the page template.
func renderHTML(w io.Writer, p *htmlPage) error {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, p); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// ChartWhy says why a flow (a pair) is charted, from its ChartReason bits.
func ChartWhy(reasons uint8) string {
	var s []string
	if reasons&(1<<ByFinding) != 0 {
		s = append(s, "it has a warning or an error")
	}
	if reasons&(1<<ByBytes) != 0 {
		s = append(s, "among the flows with the most bytes (--top)")
	}
	if reasons&(1<<ByCeiling) != 0 {
		s = append(s, "among the flows with the smallest RWIN/RTT ceiling (--top)")
	}
	return strings.Join(s, "; ")
}
