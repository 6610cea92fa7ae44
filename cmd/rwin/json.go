package main

import (
	"encoding/json"
	"io"
)

// runRecord is the --format json document: every flow, then the summary.
type runRecord struct {
	Schema  int           `json:"schema"`
	Flows   []flowRecord  `json:"flows"`
	Summary summaryRecord `json:"summary"`
}

func writeJSON(w io.Writer, results []fileResult) error {
	doc := runRecord{Schema: schemaVersion, Flows: []flowRecord{}, Summary: summarize(results)}
	for _, r := range results {
		doc.Flows = append(doc.Flows, r.flows...)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// writeNDJSON writes one line per flow and a last summary line, so a
// pipeline can act on flows as they come.
func writeNDJSON(w io.Writer, results []fileResult) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		for i := range r.flows {
			if err := enc.Encode(&r.flows[i]); err != nil {
				return err
			}
		}
	}
	return enc.Encode(summarize(results))
}

// summarize builds the closing summary of a run.
func summarize(results []fileResult) summaryRecord {
	s := summaryRecord{Type: "summary", Schema: schemaVersion, Files: []fileSummary{},
		Findings: map[string]int{"info": 0, "warn": 0, "error": 0}}
	for _, r := range results {
		m := &r.sum
		fsum := fileSummary{
			File: r.name, Packets: m.Packets, TCP: m.TCP, Flows: len(r.flows), Filtered: m.Filtered,
			NotIP: m.NotIP, NotTCP: m.NotTCP, Fragments: m.Fragments, Truncated: m.Truncated,
			Malformed: m.Malformed, LinkType: m.LinkType, TruncOpts: m.TruncOpts,
			Evicted: m.Analyzer.Evicted, PeakFlows: m.Analyzer.PeakFlows, CutShort: m.CutShort(),
			Warnings: append([]string{}, m.Warnings...),
		}
		if r.err != nil {
			fsum.Error = ptr(oneLine(r.err.Error()))
			s.Errors++
		}
		s.Files = append(s.Files, fsum)
		s.Packets += m.Packets
		s.TCP += m.TCP
		s.Flows += len(r.flows)
		s.Skipped += m.Packets - m.TCP
		for _, f := range r.flows {
			for _, x := range f.Findings {
				s.Findings[x.Severity]++
			}
		}
	}
	return s
}
