package report

import (
	"fmt"
	"strings"

	"rwin/analyze"
)

// Format is an output format.
type Format uint8

// The formats; each is a Sink.
const (
	FormatText Format = iota
	FormatJSON
	FormatNDJSON
	FormatHTML
)

var formatNames = [...]string{FormatText: "text", FormatJSON: "json", FormatNDJSON: "ndjson", FormatHTML: "html"}

func (f Format) String() string { return formatNames[f] }

// ParseFormat parses a --format value, one of allowed; the error lists
// them.
func ParseFormat(s string, allowed ...Format) (Format, error) {
	names := make([]string, len(allowed))
	for i, f := range allowed {
		if f.String() == s {
			return f, nil
		}
		names[i] = f.String()
	}
	want := strings.Join(names, ", ")
	if n := len(names); n > 1 {
		want = strings.Join(names[:n-1], ", ") + " or " + names[n-1]
	}
	return 0, fmt.Errorf("unknown format %q (want %s)", s, want)
}

// Sink renders flows as they finish. A reader hands it each finished flow
// of input in (the inputs' index in the order given), possibly from
// several goroutines at once and several inputs at once; then EndInput
// once an input has no more flows, and Close when every input has ended.
// A sink keeps only what its output needs, and the first write error,
// which Close returns. (rwin check hands no flows: its sink, JUnit,
// renders the policy's verdict on each input.)
type Sink interface {
	Flow(in int, f *Flow)
	EndInput(in int, r *Input)
	Close(run *Run) error
}

// A SeriesSink draws flows over time. The reader records each flow's time
// series (analyze.Series) from the sink's budget and hands it over in
// Flow.Series; and it hands the flows of an input one at a time, in the
// order they finish, so that which flows the sink keeps does not depend
// on how goroutines were scheduled.
type SeriesSink interface {
	Sink
	SeriesBudget() *analyze.SeriesBudget
}

// Run is what the closing summary covers.
type Run struct {
	Inputs []Input
	// Capture is what a live capture adds to the summary; nil for files.
	Capture *CaptureRecord
	// Check is what rwin check adds: its policy; nil for other commands.
	Check *CheckRun
}

// Summary is the run's summary record, with the capture's facts for a
// live capture.
func (r *Run) Summary() any {
	s := Summarize(r.Inputs)
	if r.Capture == nil {
		return s
	}
	return LiveSummaryRecord{SummaryRecord: s, Capture: *r.Capture}
}
