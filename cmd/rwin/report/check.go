package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"rwin/rules"
)

// rwin check's own outputs: the policy's verdict of each capture as text
// (PASS, FAIL, ERROR lines) or one JSON document. Like JUnit, they render
// the verdicts (Input.Verdict), not flows, and keep nothing of them.

// CheckRun is what a check run adds to Run: the policy applied and its
// expectations that matched none of the captures.
type CheckRun struct {
	Policy    string // the policy file's path
	Unmatched []rules.Expectation
}

// verdictOf is the input's verdict; none (a capture that could not be
// opened) has no checks.
func verdictOf(r *Input) *rules.Verdict {
	if r.Verdict == nil {
		return &rules.Verdict{}
	}
	return r.Verdict
}

// CheckText is rwin check's text output.
type CheckText struct{ w io.Writer }

// NewCheckText returns the text sink of rwin check, writing to w.
func NewCheckText(w io.Writer) *CheckText { return &CheckText{w: w} }

// Flow does nothing: the verdicts hold what the output shows of flows.
func (*CheckText) Flow(int, *Flow) {}

// EndInput does nothing: the lines are written in the captures' order at
// Close.
func (*CheckText) EndInput(int, *Input) {}

// Close writes the lines and the totals.
func (t *CheckText) Close(run *Run) error { return writeCheckText(t.w, run.Check, run.Inputs) }

// CheckJSON is rwin check's --format json document.
type CheckJSON struct{ w io.Writer }

// NewCheckJSON returns the JSON sink of rwin check, writing to w.
func NewCheckJSON(w io.Writer) *CheckJSON { return &CheckJSON{w: w} }

// Flow does nothing: the verdicts hold what the document shows of flows.
func (*CheckJSON) Flow(int, *Flow) {}

// EndInput does nothing: the document is written whole at Close.
func (*CheckJSON) EndInput(int, *Input) {}

// Close writes the document.
func (j *CheckJSON) Close(run *Run) error { return writeCheckJSON(j.w, run.Check, run.Inputs) }

// violationCount returns the violations of a run, and how many captures
// could not be read to their end (each an ERROR, the run's exit 2).
func violationCount(results []Input) (failed, violations, unread int) {
	for _, r := range results {
		if r.Err != nil {
			unread++
		}
		if !verdictOf(&r).OK() {
			failed++
		}
		for _, c := range verdictOf(&r).Checks {
			violations += len(c.Violations)
		}
	}
	return failed, violations, unread
}

// writeCheckText writes the PASS, FAIL and ERROR lines of a check run,
// each violation with its evidence, and the totals.
func writeCheckText(out io.Writer, c *CheckRun, results []Input) error {
	unmatched := c.Unmatched
	w := bufio.NewWriter(out)
	for _, r := range results {
		waived := 0
		for _, c := range verdictOf(&r).Checks {
			waived += c.Waived
		}
		note := Plural(r.Flows, "flow")
		if waived > 0 {
			note += fmt.Sprintf(", %d expected", waived)
		}
		switch {
		case r.Err != nil:
			fmt.Fprintf(w, "ERROR %s  %s\n", Shown(r.Name), OneLine(r.Err.Error()))
		case verdictOf(&r).OK():
			fmt.Fprintf(w, "PASS  %s  (%s)\n", Shown(r.Name), note)
			continue
		default:
			fmt.Fprintf(w, "FAIL  %s  (%s)\n", Shown(r.Name), note)
		}
		for _, c := range verdictOf(&r).Checks {
			for _, v := range c.Violations {
				fmt.Fprintf(w, "  %s: ", c.Name)
				if v.Flow != nil {
					fmt.Fprintf(w, "%s: ", FlowLabel(v.Flow))
				}
				fmt.Fprintln(w, OneLine(v.Message))
				if v.Finding != nil {
					for _, e := range v.Finding.Evidence {
						fmt.Fprintf(w, "      evidence: packet %d: %s\n", e.Packet, Shown(e.What))
					}
				}
			}
		}
	}
	for _, x := range unmatched {
		fmt.Fprintf(w, "note: expect[%d] (%s) matched none of the captures\n", x.Index, Shown(x.Captures))
	}
	failed, violations, unread := violationCount(results)
	fmt.Fprintf(w, "check: %s, %d failed, ", Plural(len(results), "capture"), failed)
	if unread > 0 {
		fmt.Fprintf(w, "%d could not be read, ", unread)
	}
	fmt.Fprintf(w, "%s (policy %s)\n", Plural(violations, "violation"), Shown(c.Policy))
	return w.Flush()
}

// CheckRecord is the --format json document of `rwin check`.
type CheckRecord struct {
	Type       string               `json:"type"`
	Schema     int                  `json:"schema"`
	Policy     string               `json:"policy"`
	OK         bool                 `json:"ok"`
	Failed     int                  `json:"failed"`
	Violations int                  `json:"violations"`
	Unread     int                  `json:"unread"`
	Captures   []CheckCaptureRecord `json:"captures"`
	Unmatched  []UnmatchedRecord    `json:"unmatched_expectations"`
}

// CheckCaptureRecord is one capture's verdict.
type CheckCaptureRecord struct {
	File   string             `json:"file"`
	OK     bool               `json:"ok"`
	Flows  int                `json:"flows"`
	Error  *string            `json:"error"`
	Checks []CheckEntryRecord `json:"checks"`
}

// CheckEntryRecord is one check of the policy on a capture.
type CheckEntryRecord struct {
	Name       string            `json:"name"`
	OK         bool              `json:"ok"`
	Expected   int               `json:"expected"`
	Violations []ViolationRecord `json:"violations"`
}

// ViolationRecord is one violation of a check, with the finding behind
// it if there is one.
type ViolationRecord struct {
	Flow       *uint64          `json:"flow"`
	Client     *string          `json:"client"`
	Server     *string          `json:"server"`
	Rule       *string          `json:"rule"`
	Severity   *string          `json:"severity"`
	Confidence *string          `json:"confidence"`
	Message    string           `json:"message"`
	Evidence   []EvidenceRecord `json:"evidence"`
}

// UnmatchedRecord is an expectation of the policy that matched none of
// the captures.
type UnmatchedRecord struct {
	Index    int    `json:"index"`
	Captures string `json:"captures"`
}

// writeCheckJSON writes the JSON document of a check run.
func writeCheckJSON(out io.Writer, c *CheckRun, results []Input) error {
	unmatched := c.Unmatched
	failed, violations, unread := violationCount(results)
	doc := CheckRecord{Type: "check", Schema: SchemaVersion, Policy: c.Policy, Failed: failed, Violations: violations, Unread: unread,
		Captures: []CheckCaptureRecord{}, Unmatched: []UnmatchedRecord{}}
	doc.OK = failed == 0
	for _, r := range results {
		cr := CheckCaptureRecord{File: r.Name, OK: r.Err == nil && verdictOf(&r).OK(), Flows: r.Flows, Checks: []CheckEntryRecord{}}
		if r.Err != nil {
			cr.Error = ptr(OneLine(r.Err.Error()))
			doc.OK = false
		}
		for _, c := range verdictOf(&r).Checks {
			ce := CheckEntryRecord{Name: c.Name, OK: c.OK(), Expected: c.Waived, Violations: []ViolationRecord{}}
			for _, v := range c.Violations {
				vr := ViolationRecord{Message: v.Message, Evidence: []EvidenceRecord{}}
				if f := v.Flow; f != nil {
					vr.Flow, vr.Client, vr.Server = ptr(f.ID), ptr(f.Client.Addr.String()), ptr(f.Server.Addr.String())
				}
				if x := v.Finding; x != nil {
					vr.Rule, vr.Severity, vr.Confidence = ptr(x.ID), ptr(x.Severity.String()), ptr(x.Confidence.String())
					vr.Evidence = EvidenceRecords(x.Evidence)
				}
				ce.Violations = append(ce.Violations, vr)
			}
			cr.Checks = append(cr.Checks, ce)
		}
		doc.Captures = append(doc.Captures, cr)
	}
	for _, x := range unmatched {
		doc.Unmatched = append(doc.Unmatched, UnmatchedRecord{Index: x.Index, Captures: x.Captures})
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
