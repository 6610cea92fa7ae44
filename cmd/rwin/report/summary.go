package report

import (
	"rwin/analyze"
	"rwin/rules"
)

// Input is what one input produced: a capture file, the files of --merge
// read as one, or a live interface.
type Input struct {
	Name  string
	Flows int // flows finished, reported or not
	// Severity counts findings by severity, ByRule by rule ID, over every
	// flow of the input.
	Severity rules.SeverityCounts
	ByRule   map[string]int
	Sum      analyze.Summary
	Err      error // could not open, or reading ended early
	// Verdict is the policy's verdict on the input (rwin check), nil
	// where no policy judged it.
	Verdict *rules.Verdict
}

// Count adds one flow's findings to the input's counts.
func (in *Input) Count(found []rules.Finding) {
	in.Flows++
	in.Severity.Add(found)
	for i := range found {
		if in.ByRule == nil {
			in.ByRule = map[string]int{}
		}
		in.ByRule[found[i].ID]++
	}
}

// Merge adds another part's counts of the same input.
func (in *Input) Merge(o *Input) {
	in.Flows += o.Flows
	in.Severity.Merge(&o.Severity)
	for id, n := range o.ByRule {
		if in.ByRule == nil {
			in.ByRule = map[string]int{}
		}
		in.ByRule[id] += n
	}
}

// summarize builds the closing summary of a run.
func Summarize(inputs []Input) SummaryRecord {
	s := SummaryRecord{Type: "summary", Schema: SchemaVersion, Files: []FileSummary{}}
	var found rules.SeverityCounts
	for _, r := range inputs {
		m := &r.Sum
		fsum := FileSummary{
			File: r.Name, Packets: m.Packets, TCP: m.TCP, Flows: r.Flows, Filtered: m.Filtered,
			NotIP: m.NotIP, NotTCP: m.NotTCP, Fragments: m.Fragments, Truncated: m.Truncated,
			Malformed: m.Malformed, LinkType: m.LinkType, Encap: m.Encap, TruncOpts: m.TruncOpts, Untimed: m.Untimed,
			Evicted: m.Analyzer.Evicted, Dups: m.Analyzer.Duplicates, PeakFlows: m.Analyzer.PeakFlows, CutShort: m.CutShort(),
			Warnings:   append([]string{}, m.Warnings...),
			Unanswered: unansweredRecords(&m.Unanswered), UnansweredOther: m.Unanswered.OtherAttempts,
		}
		if r.Err != nil {
			fsum.Error = ptr(OneLine(r.Err.Error()))
			s.Errors++
		}
		s.Files = append(s.Files, fsum)
		s.Packets += m.Packets
		s.TCP += m.TCP
		s.Flows += r.Flows
		s.Skipped += m.Packets - m.TCP
		found.Merge(&r.Severity)
	}
	s.Findings = found.ByName()
	return s
}
