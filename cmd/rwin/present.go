package main

import (
	"io"

	"github.com/fatih/color"

	"rwin/cmd/rwin/report"
	"rwin/rules"
)

// The report package's vocabulary under the names the diff and check
// output use.

var (
	shown           = report.Shown
	plural          = report.Plural
	durationString  = report.DurationString
	timeString      = report.TimeString
	ms              = report.Millis
	rwinOf          = report.RWINOf
	evidenceRecords = report.EvidenceRecords
	label           = report.Label
	rwinCell        = report.RWINCell
)

func writeFinding(w io.Writer, p palette, x *rules.Finding, evidence []string) {
	report.WriteFinding(w, p.report, x, evidence)
}

const schemaVersion = report.SchemaVersion

type (
	summaryRecord     = report.SummaryRecord
	fileSummary       = report.FileSummary
	evidenceRecord    = report.EvidenceRecord
	findingRec[E any] = report.FindingRec[E]
	handshakeRecord   = report.HandshakeRecord
	fileResult        = report.Input
	rwinRec           = report.RWINRecord
	findingRecord     = report.FindingRecord
	flowRecord        = report.FlowRecord
)

func newFindingRec[E any](x *rules.Finding, evidence []E) findingRec[E] {
	return report.NewFindingRec(x, evidence)
}

func ptr[T any](v T) *T { return &v }

// palette is report.Palette in this package's spelling.
type palette struct {
	head, dim, bad, warn, info, good *color.Color
	on                               bool
	report                           report.Palette
}

func newPalette(on bool) palette {
	p := report.NewPalette(on)
	return palette{head: p.Head, dim: p.Dim, bad: p.Bad, warn: p.Warn, info: p.Info, good: p.Good, on: p.On, report: p}
}

func (p palette) severity(s rules.Severity) *color.Color { return p.report.Severity(s) }
