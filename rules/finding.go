// Package rules judges finished flows: each rule reads the facts the
// analyzer recorded and says what they mean, how sure it is, what proves
// it and what to do about it. Rules never look at packets.
package rules

import (
	"fmt"
	"slices"
	"strings"

	"rwin/analyze"
)

// Severity ranks how much a finding matters.
type Severity uint8

// Severities, in increasing order.
const (
	Info Severity = iota
	Warn
	Error
)

func (s Severity) String() string {
	switch s {
	case Warn:
		return "warn"
	case Error:
		return "error"
	}
	return "info"
}

// ParseSeverity parses "info", "warn" or "error".
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(s) {
	case "info":
		return Info, nil
	case "warn", "warning":
		return Warn, nil
	case "error":
		return Error, nil
	}
	return 0, fmt.Errorf("unknown severity %q (want info, warn or error)", s)
}

// SeverityCounts counts findings by severity.
type SeverityCounts [Error + 1]int

// Add counts every finding of found.
func (c *SeverityCounts) Add(found []Finding) {
	for i := range found {
		c[found[i].Severity]++
	}
}

// Merge adds the counts of o.
func (c *SeverityCounts) Merge(o *SeverityCounts) {
	for sev, n := range o {
		c[sev] += n
	}
}

// ByName returns the counts keyed by severity name, every severity
// present, as the JSON summaries give them.
func (c *SeverityCounts) ByName() map[string]int {
	m := make(map[string]int, len(c))
	for sev, n := range c {
		m[Severity(sev).String()] = n
	}
	return m
}

// Confidence says how sure a finding is.
type Confidence uint8

// Confidences, in increasing order. Proven is reserved for evidence that
// leaves no other explanation (e.g. a capture from both ends).
const (
	Low Confidence = iota
	Medium
	High
	Proven
)

func (c Confidence) String() string {
	switch c {
	case Medium:
		return "medium"
	case High:
		return "high"
	case Proven:
		return "proven"
	}
	return "low"
}

// ParseConfidence parses "low", "medium", "high" or "proven".
func ParseConfidence(s string) (Confidence, error) {
	for c := Low; c <= Proven; c++ {
		if strings.EqualFold(s, c.String()) {
			return c, nil
		}
	}
	return 0, fmt.Errorf("unknown confidence %q (want low, medium, high or proven)", s)
}

// Evidence is one packet that supports a finding.
type Evidence struct {
	Packet uint64 // 1-based packet number in the capture
	Time   int64  // ns since the epoch
	What   string // what this packet shows
}

// Finding is one judgement about one flow.
type Finding struct {
	ID         string
	Name       string
	Severity   Severity
	Confidence Confidence
	// Why explains the confidence: what raised or limited it.
	Why       string
	Direction analyze.Direction
	Summary   string
	Evidence  []Evidence
	Advice    string
}

// Rule is one entry of the catalog.
type Rule struct {
	ID   string
	Name string
	// Severity is the most severe level the rule reports.
	Severity Severity
	// Doc says what the rule detects and how, for `rwin rules` and the
	// generated catalog.
	Doc string
	// check judges one flow; nil for the pair rules of `rwin diff`,
	// which judge two captures of a flow (see EvaluateDiff).
	check func(f *analyze.Flow, r *Rule) []Finding
}

// finding starts a Finding of rule r.
func (r *Rule) finding(sev Severity, conf Confidence, dir analyze.Direction, why, summary, advice string, ev ...Evidence) Finding {
	return Finding{ID: r.ID, Name: r.Name, Severity: sev, Confidence: conf, Why: why,
		Direction: dir, Summary: summary, Evidence: ev, Advice: advice}
}

// Catalog returns every rule, in a stable order.
func Catalog() []*Rule { return catalog }

// Lookup returns the rule with the given ID, or nil.
func Lookup(id string) *Rule {
	i := slices.IndexFunc(catalog, func(r *Rule) bool { return r.ID == id })
	if i < 0 {
		return nil
	}
	return catalog[i]
}

// Evaluate runs every rule over a flow and returns its findings, most
// severe first, then in catalog order.
func Evaluate(f *analyze.Flow) []Finding {
	var out []Finding
	for _, r := range flowRules {
		out = append(out, r.check(f, r)...)
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return int(b.Severity) - int(a.Severity) })
	return out
}
