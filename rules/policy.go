package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"rwin/analyze"
)

// A Policy says what fails a CI run of `rwin check`: which findings at
// which severity and confidence, thresholds on the negotiated options and
// windows, and, for regression, which findings given captures must and must
// not raise. It is read from JSON (see README.md, "CI: rwin check"); every
// mistake in it is an error, never a silent pass.
type Policy struct {
	path  string
	dir   string // globs are relative to it
	fail  level
	conf  Confidence
	rules map[string]ruleOverride
	// ignore holds the rules whose findings never fail a run.
	ignore  map[string]bool
	minRWIN uint64 // 0: no threshold
	ports   map[uint16]portRule
	expect  []Expectation
}

// level is a severity threshold; never is above every severity.
type level struct {
	never bool
	sev   Severity
}

func (l level) reached(s Severity) bool { return !l.never && s >= l.sev }

func (l level) String() string {
	if l.never {
		return "never"
	}
	return l.sev.String()
}

type ruleOverride struct {
	fail    *level
	minConf *Confidence
}

type portRule struct {
	negotiate []string // "scaling", "sack", "timestamps"
	minRWIN   uint64
}

// Expectation is a regression entry: the captures its glob matches must
// raise every ID of Require and none of Forbid. IDs are rule IDs or the
// threshold checks (CheckMinRWIN, CheckNegotiate).
type Expectation struct {
	// Captures is the glob as written; Index the entry's position in the
	// policy's expect list, from 0.
	Captures string
	Index    int
	Require  []string
	Forbid   []string
	abs      string
}

// Names of the checks a policy runs on every capture.
const (
	CheckFindings  = "findings"  // findings at or above the fail level
	CheckMinRWIN   = "min-rwin"  // the smallest largest-window an endpoint may advertise
	CheckNegotiate = "negotiate" // options a service port must negotiate
	CheckRequire   = "require"   // an expected finding is missing
	CheckForbid    = "forbid"    // a forbidden finding is present
)

// maxRWIN is the largest window TCP can advertise: 65535 << 14.
const maxRWIN = 65535 << 14

// rwinJudgedBytes is how much data an endpoint must have received before
// its largest window is held against min_rwin: an endpoint that was sent
// less was never asked to open its window.
const rwinJudgedBytes = 64 << 10

// policyFile is the JSON form of a Policy.
type policyFile struct {
	FailOn        *string                     `json:"fail_on"`
	MinConfidence *string                     `json:"min_confidence"`
	Rules         map[string]ruleOverrideFile `json:"rules"`
	Ignore        []string                    `json:"ignore"`
	MinRWIN       *int64                      `json:"min_rwin"`
	Ports         map[string]portRuleFile     `json:"ports"`
	Expect        []expectationFile           `json:"expect"`
}

type ruleOverrideFile struct {
	FailOn        *string `json:"fail_on"`
	MinConfidence *string `json:"min_confidence"`
}

type portRuleFile struct {
	Negotiate []string `json:"negotiate"`
	MinRWIN   *int64   `json:"min_rwin"`
}

type expectationFile struct {
	Captures string   `json:"captures"`
	Require  []string `json:"require"`
	Forbid   []string `json:"forbid"`
}

// ErrPolicy marks a policy that cannot be used: unreadable, not JSON, an
// unknown key, rule or value.
var ErrPolicy = errors.New("invalid policy")

// LoadPolicy reads and checks a policy file.
func LoadPolicy(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w: %w", ErrPolicy, err)
	}
	defer f.Close()
	b, err := readPolicy(f)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w: %w", path, ErrPolicy, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w: %w", path, ErrPolicy, err)
	}
	p, err := ParsePolicy(bytes.NewReader(b), filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	p.path = path
	return p, nil
}

// ParsePolicy reads a policy from JSON (at most 1 MiB); dir is what the
// capture globs of its expectations are relative to.
func ParsePolicy(r io.Reader, dir string) (*Policy, error) {
	b, err := readPolicy(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	if err := checkPolicyJSON(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var pf policyFile
	if err := dec.Decode(&pf); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrPolicy, jsonError(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON value", ErrPolicy)
	}
	p := &Policy{dir: dir, fail: level{sev: Error}, conf: Low, rules: map[string]ruleOverride{}, ignore: map[string]bool{},
		ports: map[uint16]portRule{}}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrPolicy}, args...)...)
	}
	if pf.FailOn != nil {
		l, err := parseLevel(*pf.FailOn)
		if err != nil {
			return nil, bad("fail_on: %v", err)
		}
		p.fail = l
	}
	if pf.MinConfidence != nil {
		c, err := ParseConfidence(*pf.MinConfidence)
		if err != nil {
			return nil, bad("min_confidence: %v", err)
		}
		p.conf = c
	}
	for _, id := range sortedKeys(pf.Rules) {
		o := pf.Rules[id]
		if Lookup(id) == nil {
			return nil, bad("rules: unknown rule %q (rwin rules lists them)", id)
		}
		var ro ruleOverride
		if o.FailOn != nil {
			l, err := parseLevel(*o.FailOn)
			if err != nil {
				return nil, bad("rules: %s: fail_on: %v", id, err)
			}
			ro.fail = &l
		}
		if o.MinConfidence != nil {
			c, err := ParseConfidence(*o.MinConfidence)
			if err != nil {
				return nil, bad("rules: %s: min_confidence: %v", id, err)
			}
			ro.minConf = &c
		}
		if ro.fail == nil && ro.minConf == nil {
			return nil, bad("rules: %s: give fail_on or min_confidence", id)
		}
		p.rules[id] = ro
	}
	for _, id := range pf.Ignore {
		if Lookup(id) == nil {
			return nil, bad("ignore: unknown rule %q (rwin rules lists them)", id)
		}
		p.ignore[id] = true
	}
	if p.minRWIN, err = parseRWIN(pf.MinRWIN); err != nil {
		return nil, bad("min_rwin: %v", err)
	}
	for _, key := range sortedKeys(pf.Ports) {
		port, err := strconv.ParseUint(key, 10, 16)
		if err != nil || port == 0 {
			return nil, bad("ports: %q is not a port number (1–65535)", key)
		}
		pr := pf.Ports[key]
		var rule portRule
		for _, opt := range pr.Negotiate {
			if !slices.Contains([]string{"scaling", "sack", "timestamps"}, opt) {
				return nil, bad("ports: %s: negotiate: unknown option %q (want scaling, sack or timestamps)", key, opt)
			}
			rule.negotiate = append(rule.negotiate, opt)
		}
		if rule.minRWIN, err = parseRWIN(pr.MinRWIN); err != nil {
			return nil, bad("ports: %s: min_rwin: %v", key, err)
		}
		if len(rule.negotiate) == 0 && rule.minRWIN == 0 {
			return nil, bad("ports: %s: give negotiate or min_rwin", key)
		}
		p.ports[uint16(port)] = rule
	}
	for i, e := range pf.Expect {
		x := Expectation{Captures: e.Captures, Index: i, Require: e.Require, Forbid: e.Forbid}
		where := fmt.Sprintf("expect[%d]", i)
		if e.Captures == "" {
			return nil, bad("%s: captures: a glob is required", where)
		}
		if _, err := filepath.Match(e.Captures, ""); err != nil {
			return nil, bad("%s: captures: %q: %v", where, e.Captures, err)
		}
		x.abs = e.Captures
		if !filepath.IsAbs(x.abs) {
			x.abs = filepath.Join(dir, x.abs)
		}
		x.abs = filepath.ToSlash(filepath.Clean(x.abs))
		if len(e.Require)+len(e.Forbid) == 0 {
			return nil, bad("%s: give require or forbid", where)
		}
		for _, id := range append(append([]string{}, e.Require...), e.Forbid...) {
			if Lookup(id) == nil && id != CheckMinRWIN && id != CheckNegotiate {
				return nil, bad("%s: unknown rule or check %q (rwin rules lists the rules; the checks are %s and %s)",
					where, id, CheckMinRWIN, CheckNegotiate)
			}
		}
		for _, id := range e.Require {
			if slices.Contains(e.Forbid, id) {
				return nil, bad("%s: %q is both required and forbidden", where, id)
			}
		}
		p.expect = append(p.expect, x)
	}
	return p, nil
}

func parseLevel(s string) (level, error) {
	if strings.EqualFold(s, "never") {
		return level{never: true}, nil
	}
	sev, err := ParseSeverity(s)
	if err != nil {
		return level{}, fmt.Errorf("unknown level %q (want info, warn, error or never)", s)
	}
	return level{sev: sev}, nil
}

func parseRWIN(v *int64) (uint64, error) {
	switch {
	case v == nil:
		return 0, nil
	case *v <= 0:
		return 0, fmt.Errorf("%d: want a positive number of bytes", *v)
	case *v > maxRWIN:
		return 0, fmt.Errorf("%d bytes exceeds the largest window TCP can advertise (65535 << 14 = %d)", *v, maxRWIN)
	}
	return uint64(*v), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Path returns the file the policy was read from ("" when parsed from a
// reader).
func (p *Policy) Path() string { return p.path }

// Expectations returns the regression entries.
func (p *Policy) Expectations() []Expectation { return p.expect }

// Matches reports whether an expectation's glob matches the capture file
// path. Globs are relative to the policy file's directory; * and ? do not
// cross a /, ** matches any number of directories.
func (x Expectation) Matches(capturePath string) bool {
	abs, err := filepath.Abs(capturePath)
	if err != nil {
		return false
	}
	return globMatch(strings.Split(x.abs, "/"), strings.Split(filepath.ToSlash(abs), "/"))
}

// globMatch matches path elements against pattern elements, where "**"
// stands for any number of elements and every other element is a
// filepath.Match pattern. It is the classic wildcard match: on a mismatch
// only the last "**" takes one more element, so whatever the number of
// "**", it makes at most len(pat)×len(name) element comparisons (trying
// every split, as a recursion would, took exponential time: 20 "**" hung).
func globMatch(pat, name []string) bool {
	p, n := 0, 0
	star, mark := -1, 0 // the last "**" seen, and the element it was tried up to
	for n < len(name) {
		switch {
		case p < len(pat) && pat[p] == "**":
			star, mark = p, n
			p++
		case p < len(pat) && elementMatch(pat[p], name[n]):
			p++
			n++
		case star >= 0:
			mark++
			p, n = star+1, mark
		default:
			return false
		}
	}
	for p < len(pat) && pat[p] == "**" {
		p++
	}
	return p == len(pat)
}

func elementMatch(pat, name string) bool {
	ok, _ := filepath.Match(pat, name)
	return ok
}

// Violation is one thing a capture did against the policy.
type Violation struct {
	// Flow is the flow at fault, nil for a missing required finding.
	Flow *analyze.Flow
	// Finding is the finding at fault (CheckFindings, CheckForbid).
	Finding *Finding
	// Message says what is wrong, in one line.
	Message string
}

// CheckResult is one check on one capture: a JUnit test case.
type CheckResult struct {
	// Name is the check (CheckFindings, …), with the rule for require and
	// forbid: "require wscale-stripped".
	Name       string
	Violations []Violation
	// Waived counts violations an expectation of this capture requires,
	// so they do not fail it.
	Waived int
}

// OK reports whether the check passed.
func (c CheckResult) OK() bool { return len(c.Violations) == 0 }

// Verdict is what a policy says of one capture.
type Verdict struct {
	Capture string
	Checks  []CheckResult
}

// OK reports whether every check passed.
func (v Verdict) OK() bool {
	for _, c := range v.Checks {
		if !c.OK() {
			return false
		}
	}
	return true
}

// Judgement applies a policy to one capture, flow by flow, keeping only
// what violates it: memory grows with violations, not with flows.
type Judgement struct {
	p                         *Policy
	capture                   string
	matching                  []Expectation
	required                  map[string]bool
	raised                    map[string]bool // rule and check IDs the capture raised
	findings, rwin, negotiate CheckResult
	forbidden                 map[string][]Violation
}

// Start begins judging the capture at capturePath.
func (p *Policy) Start(capturePath string) *Judgement {
	j := &Judgement{p: p, capture: capturePath, required: map[string]bool{}, raised: map[string]bool{},
		findings: CheckResult{Name: CheckFindings}, rwin: CheckResult{Name: CheckMinRWIN},
		negotiate: CheckResult{Name: CheckNegotiate}, forbidden: map[string][]Violation{}}
	for _, x := range p.expect {
		if x.Matches(capturePath) {
			j.matching = append(j.matching, x)
			for _, id := range x.Require {
				j.required[id] = true
			}
		}
	}
	return j
}

// Add judges one flow of the capture with its findings. Neither is kept:
// a violation holds its own copies.
func (j *Judgement) Add(f *analyze.Flow, found []Finding) {
	var kept *analyze.Flow
	keep := func() *analyze.Flow {
		if kept == nil {
			c := *f
			kept = &c
		}
		return kept
	}
	violate := func(c *CheckResult, id string, v Violation) {
		j.raised[id] = true
		if j.required[id] {
			c.Waived++
			return
		}
		v.Flow = keep()
		c.Violations = append(c.Violations, v)
	}
	for i := range found {
		x := found[i]
		j.raised[x.ID] = true
		for _, e := range j.matching {
			if slices.Contains(e.Forbid, x.ID) {
				j.forbidden[x.ID] = append(j.forbidden[x.ID], Violation{Flow: keep(), Finding: &x,
					Message: fmt.Sprintf("expect[%d] (%s) forbids %s: %s", e.Index, e.Captures, x.ID, x.Summary)})
				break
			}
		}
		if j.p.fails(&x) {
			violate(&j.findings, x.ID, Violation{Finding: &x,
				Message: fmt.Sprintf("%s (%s, %s confidence): %s", x.ID, x.Severity, x.Confidence, x.Summary)})
		}
	}
	for _, msg := range j.p.rwinViolations(f) {
		violate(&j.rwin, CheckMinRWIN, Violation{Message: msg})
	}
	for _, msg := range j.p.negotiateViolations(f) {
		violate(&j.negotiate, CheckNegotiate, Violation{Message: msg})
	}
}

// Done returns the verdict: one CheckResult per check the policy runs on
// this capture.
func (j *Judgement) Done() Verdict {
	p := j.p
	v := Verdict{Capture: j.capture, Checks: []CheckResult{j.findings}}
	if p.minRWIN > 0 || p.portsWant(func(r portRule) bool { return r.minRWIN > 0 }) {
		v.Checks = append(v.Checks, j.rwin)
	}
	if p.portsWant(func(r portRule) bool { return len(r.negotiate) > 0 }) {
		v.Checks = append(v.Checks, j.negotiate)
	}
	for _, x := range j.matching {
		for _, id := range x.Require {
			c := CheckResult{Name: CheckRequire + " " + id}
			if !j.raised[id] {
				c.Violations = append(c.Violations, Violation{
					Message: fmt.Sprintf("expect[%d] (%s) requires %s; no flow raised it", x.Index, x.Captures, id)})
			}
			v.Checks = append(v.Checks, c)
		}
		for _, id := range x.Forbid {
			c := CheckResult{Name: CheckForbid + " " + id, Violations: j.forbidden[id]}
			if j.raised[id] && (id == CheckMinRWIN || id == CheckNegotiate) {
				c.Violations = append(c.Violations, Violation{
					Message: fmt.Sprintf("expect[%d] (%s) forbids %s violations; there are some", x.Index, x.Captures, id)})
			}
			v.Checks = append(v.Checks, c)
		}
	}
	return v
}

// fails reports whether a finding reaches its rule's fail level and
// confidence.
func (p *Policy) fails(x *Finding) bool {
	if p.ignore[x.ID] {
		return false
	}
	fail, conf := p.fail, p.conf
	if o, ok := p.rules[x.ID]; ok {
		if o.fail != nil {
			fail = *o.fail
		}
		if o.minConf != nil {
			conf = *o.minConf
		}
	}
	return fail.reached(x.Severity) && x.Confidence >= conf
}

func (p *Policy) portsWant(want func(portRule) bool) bool {
	for _, r := range p.ports {
		if want(r) {
			return true
		}
	}
	return false
}

// rwinViolations holds each endpoint that received enough data against the
// minimum window: its largest effective window must reach it. A shift the
// capture does not know cannot be judged; an inferred one is a lower bound.
func (p *Policy) rwinViolations(f *analyze.Flow) []string {
	min := p.minRWIN
	if r, ok := p.ports[f.Server.Addr.Port()]; ok && r.minRWIN > 0 {
		min = r.minRWIN
	}
	if min == 0 {
		return nil
	}
	var out []string
	for _, s := range sides(f) {
		e := s.e
		if s.peer.UniqueBytes < rwinJudgedBytes || e.Window.Samples == 0 || e.Shift.Basis != analyze.BasisNegotiated {
			continue
		}
		if got := uint64(e.Shift.Value.Scale(e.Window.Max)); got < min {
			out = append(out, fmt.Sprintf("%s's largest window %s (field %d, shift %d) is below min_rwin %s", s.name, Bytes(got),
				e.Window.Max, e.Shift.Value, Bytes(min)))
		}
	}
	return out
}

// negotiateViolations holds a flow to the options its server port must
// negotiate. An option the capture cannot settle (no handshake) fails
// too: the requirement is not met as far as anyone can tell.
func (p *Policy) negotiateViolations(f *analyze.Flow) []string {
	r, ok := p.ports[f.Server.Addr.Port()]
	if !ok {
		return nil
	}
	var out []string
	for _, opt := range r.negotiate {
		var got analyze.Tri
		switch opt {
		case "scaling":
			got = f.Negotiated.Scaling
		case "sack":
			got = f.Negotiated.SACK
		case "timestamps":
			got = f.Negotiated.Timestamps
		}
		switch got {
		case analyze.No:
			out = append(out, fmt.Sprintf("port %d must negotiate %s; this flow did not", f.Server.Addr.Port(), opt))
		case analyze.Unknown:
			out = append(out, fmt.Sprintf("port %d must negotiate %s; the capture does not show the handshake that would", f.Server.Addr.Port(), opt))
		}
	}
	return out
}

// Unmatched returns the expectations whose glob matched none of the
// captures: a regression entry that checks nothing.
func (p *Policy) Unmatched(captures []string) []Expectation {
	var out []Expectation
	for _, x := range p.expect {
		if !slices.ContainsFunc(captures, x.Matches) {
			out = append(out, x)
		}
	}
	return out
}
