package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"rwin/analyze"
	"rwin/cmd/rwin/report"
	"rwin/rules"
)

// checkOptions are the flags of `rwin check`.
type checkOptions struct {
	policy string
	junit  string
	force  bool
	format string
	cfg    analyze.Config
}

func cmdCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	var o checkOptions
	fset := flag.NewFlagSet("check", flag.ContinueOnError)
	fset.StringVar(&o.policy, "policy", "", "the policy `file` (JSON) to apply")
	fset.StringVar(&o.junit, "junit", "", "also write JUnit XML to this `file`: one test case per capture and check")
	fset.BoolVar(&o.force, "force", false, "replace the --junit file if it exists (never through a symbolic link)")
	fset.StringVar(&o.format, "format", "text", "output `format`: text or json")
	fset.IntVar(&o.cfg.MaxFlows, "max-flows", analyze.DefaultMaxFlows, "at most `N` live flows per capture")
	fset.DurationVar(&o.cfg.Linger, "linger", analyze.DefaultLinger, lingerHelp)
	pos, err := parseArgs(fset, args, stdout)
	if err != nil {
		return usageResult(err)
	}
	if err := checkInputs(o.policy, pos); err != nil {
		return exitInput, err
	}
	if err := checkTableFlags("check", o.cfg); err != nil {
		return exitInput, err
	}
	if o.format != "text" && o.format != "json" {
		return exitInput, fmt.Errorf("check: unknown format %q (want text or json)", o.format)
	}
	policy, err := rules.LoadPolicy(o.policy)
	if err != nil {
		return exitInput, fmt.Errorf("check: %w", err)
	}
	files, notes, err := expandCaptures(pos)
	if err != nil {
		return exitInput, fmt.Errorf("check: %w", err)
	}
	for _, n := range notes {
		fmt.Fprintf(stderr, "rwin: check: note: %s\n", oneLine(n))
	}
	if countOf(files, "-") > 1 {
		return exitInput, fmt.Errorf("check: standard input (-) can be read only once")
	}
	var junit *os.File
	var sink report.Sink // --junit's
	if o.junit != "" {
		// Opened before the captures are read, so a file that may not be
		// replaced stops the run before the work rather than after.
		if junit, err = createOutput(o.junit, 0o644, o.force); err != nil {
			if errors.Is(err, errOutputExists) {
				return exitInput, fmt.Errorf("check: --junit %w (give --force to replace it)", err)
			}
			return exitInput, fmt.Errorf("check: --junit %w", err)
		}
		sink = report.NewJUnit(junit)
	}
	results := checkAll(policy, files, o.cfg, stdin, sink)
	unmatched := policy.Unmatched(files)

	switch o.format {
	case "json":
		err = writeCheckJSON(stdout, policy, results, unmatched)
	default:
		err = writeCheckText(stdout, policy, results, unmatched)
	}
	if sink != nil {
		// The file is closed whether or not the report could be written.
		jerr := sink.Close(&report.Run{Inputs: results})
		if cerr := junit.Close(); jerr == nil {
			jerr = cerr
		}
		if jerr != nil && err == nil {
			err = fmt.Errorf("--junit %s: %w", junit.Name(), jerr)
		}
	}
	if err != nil {
		return exitInput, fmt.Errorf("check: writing output: %w", err)
	}
	code := exitOK
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(stderr, "rwin: check: %s\n", oneLine(r.Err.Error()))
			code = exitInput
		} else if !r.Verdict.OK() && code == exitOK {
			code = exitFindings
		}
	}
	return code, nil
}

// captureExts are the file name endings a directory search takes.
var captureExts = []string{".pcap", ".pcapng", ".cap"}

// expandCaptures replaces each directory among the arguments by the
// captures under it, in lexical order. A FIFO, socket or device found
// there is skipped with a note: reading one could wait forever, and it
// was not named on purpose.
func expandCaptures(args []string) (out, notes []string, err error) {
	for _, a := range args {
		st, err := os.Stat(a)
		if a == "-" || (err == nil && !st.IsDir()) {
			out = append(out, a)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !slices.Contains(captureExts, strings.ToLower(filepath.Ext(p))) {
				return nil
			}
			if st, err := os.Stat(p); err == nil && !st.Mode().IsRegular() {
				notes = append(notes, fmt.Sprintf("skipped %s: %s, not a capture file", p, streamKind(st.Mode())))
				return nil
			}
			found = append(found, p)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		if len(found) == 0 {
			return nil, nil, fmt.Errorf("%s: no captures (%s) in this directory", a, strings.Join(captureExts, ", "))
		}
		out = append(out, found...)
	}
	return out, notes, nil
}

// checkAll judges the captures, several at once, and returns their
// verdicts in the order given; sink, if any, is told of each as it ends.
func checkAll(p *rules.Policy, files []string, cfg analyze.Config, stdin io.Reader, sink report.Sink) []report.Input {
	results := make([]report.Input, len(files))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, name := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			results[i] = checkOne(p, name, cfg, stdin)
			if sink != nil {
				sink.EndInput(i, &results[i])
			}
			<-sem
		}()
	}
	wg.Wait()
	return results
}

// checkOne judges one capture: the input's verdict and flow count.
func checkOne(p *rules.Policy, name string, cfg analyze.Config, stdin io.Reader) report.Input {
	res := report.Input{Name: name, Verdict: &rules.Verdict{}}
	src, err := openCapture(name, stdin)
	if err != nil {
		res.Err = err
		return res
	}
	defer src.Close()
	j := p.Start(name)
	res.Sum = analyze.Run(src, nil, cfg, func(f *analyze.Flow) {
		res.Flows++
		j.Add(f, rules.Evaluate(f))
	})
	*res.Verdict = j.Done()
	res.Err = res.Sum.Err
	return res
}

// violationCount returns the violations of a run, and how many captures
// could not be read to their end (each an ERROR, the run's exit 2).
func violationCount(results []report.Input) (failed, violations, unread int) {
	for _, r := range results {
		if r.Err != nil {
			unread++
		}
		if !r.Verdict.OK() {
			failed++
		}
		for _, c := range r.Verdict.Checks {
			violations += len(c.Violations)
		}
	}
	return failed, violations, unread
}

func writeCheckText(out io.Writer, p *rules.Policy, results []report.Input, unmatched []rules.Expectation) error {
	w := bufio.NewWriter(out)
	for _, r := range results {
		waived := 0
		for _, c := range r.Verdict.Checks {
			waived += c.Waived
		}
		note := plural(r.Flows, "flow")
		if waived > 0 {
			note += fmt.Sprintf(", %d expected", waived)
		}
		switch {
		case r.Err != nil:
			fmt.Fprintf(w, "ERROR %s  %s\n", shown(r.Name), oneLine(r.Err.Error()))
		case r.Verdict.OK():
			fmt.Fprintf(w, "PASS  %s  (%s)\n", shown(r.Name), note)
			continue
		default:
			fmt.Fprintf(w, "FAIL  %s  (%s)\n", shown(r.Name), note)
		}
		for _, c := range r.Verdict.Checks {
			for _, v := range c.Violations {
				fmt.Fprintf(w, "  %s: ", c.Name)
				if v.Flow != nil {
					fmt.Fprintf(w, "%s: ", report.FlowLabel(v.Flow))
				}
				fmt.Fprintln(w, oneLine(v.Message))
				if v.Finding != nil {
					for _, e := range v.Finding.Evidence {
						fmt.Fprintf(w, "      evidence: packet %d: %s\n", e.Packet, shown(e.What))
					}
				}
			}
		}
	}
	for _, x := range unmatched {
		fmt.Fprintf(w, "note: expect[%d] (%s) matched none of the captures\n", x.Index, shown(x.Captures))
	}
	failed, violations, unread := violationCount(results)
	fmt.Fprintf(w, "check: %s, %d failed, ", plural(len(results), "capture"), failed)
	if unread > 0 {
		fmt.Fprintf(w, "%d could not be read, ", unread)
	}
	fmt.Fprintf(w, "%s (policy %s)\n", plural(violations, "violation"), shown(p.Path()))
	return w.Flush()
}

// checkRecord is the --format json document of `rwin check`.
type checkRecord struct {
	Type       string               `json:"type"`
	Schema     int                  `json:"schema"`
	Policy     string               `json:"policy"`
	OK         bool                 `json:"ok"`
	Failed     int                  `json:"failed"`
	Violations int                  `json:"violations"`
	Unread     int                  `json:"unread"`
	Captures   []checkCaptureRecord `json:"captures"`
	Unmatched  []unmatchedRecord    `json:"unmatched_expectations"`
}

type checkCaptureRecord struct {
	File   string             `json:"file"`
	OK     bool               `json:"ok"`
	Flows  int                `json:"flows"`
	Error  *string            `json:"error"`
	Checks []checkEntryRecord `json:"checks"`
}

type checkEntryRecord struct {
	Name       string            `json:"name"`
	OK         bool              `json:"ok"`
	Expected   int               `json:"expected"`
	Violations []violationRecord `json:"violations"`
}

type violationRecord struct {
	Flow       *uint64          `json:"flow"`
	Client     *string          `json:"client"`
	Server     *string          `json:"server"`
	Rule       *string          `json:"rule"`
	Severity   *string          `json:"severity"`
	Confidence *string          `json:"confidence"`
	Message    string           `json:"message"`
	Evidence   []evidenceRecord `json:"evidence"`
}

type unmatchedRecord struct {
	Index    int    `json:"index"`
	Captures string `json:"captures"`
}

func writeCheckJSON(out io.Writer, p *rules.Policy, results []report.Input, unmatched []rules.Expectation) error {
	failed, violations, unread := violationCount(results)
	doc := checkRecord{Type: "check", Schema: schemaVersion, Policy: p.Path(), Failed: failed, Violations: violations, Unread: unread,
		Captures: []checkCaptureRecord{}, Unmatched: []unmatchedRecord{}}
	doc.OK = failed == 0
	for _, r := range results {
		cr := checkCaptureRecord{File: r.Name, OK: r.Err == nil && r.Verdict.OK(), Flows: r.Flows, Checks: []checkEntryRecord{}}
		if r.Err != nil {
			cr.Error = ptr(oneLine(r.Err.Error()))
			doc.OK = false
		}
		for _, c := range r.Verdict.Checks {
			ce := checkEntryRecord{Name: c.Name, OK: c.OK(), Expected: c.Waived, Violations: []violationRecord{}}
			for _, v := range c.Violations {
				vr := violationRecord{Message: v.Message, Evidence: []evidenceRecord{}}
				if f := v.Flow; f != nil {
					vr.Flow, vr.Client, vr.Server = ptr(f.ID), ptr(f.Client.Addr.String()), ptr(f.Server.Addr.String())
				}
				if x := v.Finding; x != nil {
					vr.Rule, vr.Severity, vr.Confidence = ptr(x.ID), ptr(x.Severity.String()), ptr(x.Confidence.String())
					vr.Evidence = evidenceRecords(x.Evidence)
				}
				ce.Violations = append(ce.Violations, vr)
			}
			cr.Checks = append(cr.Checks, ce)
		}
		doc.Captures = append(doc.Captures, cr)
	}
	for _, x := range unmatched {
		doc.Unmatched = append(doc.Unmatched, unmatchedRecord{Index: x.Index, Captures: x.Captures})
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
