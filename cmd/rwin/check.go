package main

import (
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
	run := &report.Run{Inputs: results, Check: &report.CheckRun{Policy: policy.Path(), Unmatched: policy.Unmatched(files)}}
	var out report.Sink = report.NewCheckText(stdout)
	if o.format == "json" {
		out = report.NewCheckJSON(stdout)
	}
	err = out.Close(run)
	if sink != nil {
		// The file is closed whether or not the report could be written.
		jerr := sink.Close(run)
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
