package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"rwin/analyze"
	"rwin/analyze/pathdiff"
	"rwin/capture"
	"rwin/cmd/rwin/report"
)

// diffOptions are the flags of `rwin diff`.
type diffOptions struct {
	files  [2]string
	format report.Format
	color  string
	out    string
	force  bool
	top    int
	cfg    analyze.Config
}

func cmdDiff(args []string, stdout, stderr io.Writer) (int, error) {
	var o diffOptions
	var format string
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.StringVar(&format, "format", "text", "output `format`: text, json, ndjson or html")
	fs.StringVar(&o.out, "o", "", "write the output to a new `file` instead of standard output")
	fs.BoolVar(&o.force, "force", false, "with -o: replace an existing file")
	fs.IntVar(&o.top, "top", report.HTMLDefaultTop, "html: also chart the `N` pairs with the most bytes, beside every pair with a warn or error finding")
	fs.StringVar(&o.color, "color", "auto", "`when` to color text output: auto, always or never (NO_COLOR is honored)")
	fs.IntVar(&o.cfg.MaxFlows, "max-flows", analyze.DefaultMaxFlows, "at most `N` live flows per capture")
	fs.DurationVar(&o.cfg.Linger, "linger", analyze.DefaultLinger, lingerHelp)
	pos, err := parseArgs(fs, args, stdout)
	if err != nil {
		return usageResult(err)
	}
	if err := diffInputs(pos); err != nil {
		return exitInput, err
	}
	if err := checkTableFlags("diff", o.cfg); err != nil {
		return exitInput, err
	}
	for i, f := range pos {
		if f == "-" {
			return exitInput, fmt.Errorf("diff: captures are read twice, so standard input (-) cannot be one")
		}
		o.files[i] = f
	}
	if o.format, err = report.ParseFormat(format, report.FormatText, report.FormatJSON, report.FormatNDJSON, report.FormatHTML); err != nil {
		return exitInput, fmt.Errorf("diff: %w", err)
	}
	out, closeOut, err := openOutput(o.out, o.force, stdout)
	if errors.Is(err, errOutputExists) {
		return exitInput, fmt.Errorf("diff: -o %w (give --force to replace it)", err)
	}
	if err != nil {
		return exitInput, fmt.Errorf("diff: -o %w", err)
	}
	defer closeOut()
	useColor, err := colorWanted(o.color, out)
	if err != nil {
		return exitInput, err
	}
	spool, cleanup := spoolStreams(o.files[:])
	defer cleanup()
	var paths []string
	for i := range spool {
		if spool[i].err != nil {
			return exitInput, fmt.Errorf("diff: %w", spool[i].err)
		}
		if spool[i].note != "" {
			fmt.Fprintf(stderr, "rwin: diff: note: %s\n", oneLine(spool[i].note))
		}
		paths = append(paths, spool[i].path)
	}
	passes := 2
	if o.format == report.FormatHTML {
		passes = 3 // the charts' series: see report.DiffOptions.Open
	}
	prog := startDiffProgress(stderr, paths, passes)
	defer prog.stop()
	open := diffOpeners(paths, prog)
	if os.Getenv("GOGC") == "" {
		// As for read: flow state and the pairing's digests are most of
		// the heap.
		defer debug.SetGCPercent(debug.SetGCPercent(readGCPercent))
	}
	dout := report.NewDiffOutput(out, report.DiffOptions{Format: o.format, Color: useColor, Files: o.files,
		Top: o.top, Open: open, Config: o.cfg})
	sink := dout.Sink()
	if isTerminal(out) {
		// Pairs are written as the second pass finds them: the line would
		// be drawn over them.
		head := sink.Head
		sink.Head = func(h *pathdiff.Head) {
			prog.stop()
			head(h)
		}
	}
	h, err := pathdiff.Stream(open, pathdiff.Config{Config: o.cfg}, sink)
	defer dout.Close()
	if err != nil {
		return exitInput, fmt.Errorf("diff: %w", err)
	}
	if err := dout.Finish(h); err != nil {
		return exitInput, fmt.Errorf("writing output: %w", err)
	}
	if err := closeOut(); err != nil {
		return exitInput, fmt.Errorf("writing output: %w", err)
	}
	prog.stop()
	code := exitOK
	for i := range h.Summaries {
		sum := &h.Summaries[i]
		for _, w := range sum.Warnings {
			fmt.Fprintf(stderr, "rwin: warning: %s\n", oneLine(w))
		}
		if sum.Err != nil {
			msg := oneLine(sum.Err.Error())
			if errors.Is(sum.Err, capture.ErrTruncated) {
				msg += fmt.Sprintf(" (results cover the %d packets read before the cut)", sum.Packets)
			}
			fmt.Fprintf(stderr, "rwin: %s\n", msg)
			code = exitInput
		}
	}
	return code, nil
}

// diffOpeners opens the captures at paths, each time a pass asks, through
// the progress line.
func diffOpeners(paths []string, prog *progress) [2]analyze.Opener {
	var open [2]analyze.Opener
	for i, path := range paths {
		open[i] = func() (capture.Source, error) {
			src, err := capture.Open(path)
			if err != nil {
				return nil, err
			}
			return prog.source(path, src), nil
		}
	}
	return open
}
