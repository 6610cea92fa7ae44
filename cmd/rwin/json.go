package main

import (
	"encoding/json"
	"io"
)

// runRecord is the --format json document: every flow, then the summary.
// The flows were encoded as they finished (see collector).
type runRecord struct {
	Schema  int               `json:"schema"`
	Flows   []json.RawMessage `json:"flows"`
	Summary summaryRecord     `json:"summary"`
}

func writeJSON(w io.Writer, results []fileResult) error {
	doc := runRecord{Schema: schemaVersion, Flows: []json.RawMessage{}, Summary: summarize(results)}
	for _, r := range results {
		if r.outErr != nil {
			return r.outErr
		}
		doc.Flows = append(doc.Flows, r.records...)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// --format ndjson writes one line per flow as flows finish, so a pipeline
// can act on them as they come and a capture of any size is reported in
// constant memory (see flowStream), then a last summary line.

// summarize builds the closing summary of a run.
func summarize(results []fileResult) summaryRecord {
	s := summaryRecord{Type: "summary", Schema: schemaVersion, Files: []fileSummary{},
		Findings: map[string]int{"info": 0, "warn": 0, "error": 0}}
	for _, r := range results {
		m := &r.sum
		fsum := fileSummary{
			File: r.name, Packets: m.Packets, TCP: m.TCP, Flows: r.flows, Filtered: m.Filtered,
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
		s.Flows += r.flows
		s.Skipped += m.Packets - m.TCP
		for sev, n := range r.severity {
			s.Findings[sev] += n
		}
	}
	return s
}
