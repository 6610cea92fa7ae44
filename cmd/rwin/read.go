package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"rwin/analyze"
	"rwin/capture"
	"rwin/cmd/rwin/report"
)

// readOptions are the flags of `rwin read`.
type readOptions struct {
	files    []string
	filter   string
	format   report.Format
	color    string
	verbose  bool
	text     report.TextOptions // sort, --findings-only, --top
	merge    bool               // read the files as one capture, in timestamp order
	cfg      analyze.Config
	sink     report.Sink // where flows go as they finish
	progress *progress   // the progress line on a terminal's stderr, or nil
	intr     *interrupt  // ends the reading on SIGINT or SIGTERM
	out      string      // -o: write the report there
	force    bool        // -o may replace an existing file
	top      int         // flows charted (html) or named (text) by ceiling, and by bytes (html)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func cmdRead(args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	var o readOptions
	var rFiles multiFlag
	var format, sortKey string
	fs := flag.NewFlagSet("read", flag.ContinueOnError)
	fs.Var(&rFiles, "r", "read this capture `file` (repeatable; - for stdin)")
	fs.StringVar(&o.filter, "f", "", "BPF filter `expression`, as tcpdump takes it (or give it after the files)")
	fs.StringVar(&format, "format", "text", "output `format`: text, json, ndjson or html")
	fs.StringVar(&sortKey, "sort", "start", "text: order the table by `key`: start, ceiling (RWIN/RTT, smallest first), rwin, findings, bytes or rtt")
	fs.BoolVar(&o.text.FindingsOnly, "findings-only", false, "text: list only the flows with findings")
	fs.StringVar(&o.out, "o", "", "write the output to `file` instead of standard output (a new file: see --force)")
	fs.BoolVar(&o.force, "force", false, "let -o replace an existing regular file")
	fs.IntVar(&o.top, "top", report.HTMLDefaultTop, "text: name the `N` flows with the smallest RWIN/RTT ceiling among the worst flows; html: also chart them and the N with the most bytes")
	fs.StringVar(&o.color, "color", "auto", "`when` to color text output: auto, always or never (NO_COLOR is honored)")
	fs.BoolVar(&o.verbose, "v", false, "per-flow detail in text output")
	fs.BoolVar(&o.merge, "merge", false, "read the files as one capture in timestamp order, as mergecap would merge them (the files of a dumpcap -b or tcpdump -C ring buffer)")
	fs.IntVar(&o.cfg.MaxFlows, "max-flows", analyze.DefaultMaxFlows, "cap of `N` live flows; the least recently active is finished early past it")
	fs.DurationVar(&o.cfg.Linger, "linger", analyze.DefaultLinger, lingerHelp)
	pos, err := parseArgs(fs, args, stdout)
	if err != nil {
		return usageResult(err)
	}
	o.files = rFiles
	expr, err := splitFilesAndFilter(&o, pos)
	if err != nil {
		return exitInput, err
	}
	if expr != "" {
		if o.filter != "" {
			return exitInput, fmt.Errorf("read: give the filter either with -f or after the files, not both")
		}
		o.filter = expr
	}
	if len(o.files) == 0 {
		return exitInput, noReadInput
	}
	var notes []string
	if o.files, notes, err = expandDirs(o.files); err != nil {
		return exitInput, fmt.Errorf("read: %w", err)
	}
	for _, n := range notes {
		fmt.Fprintf(stderr, "rwin: read: note: %s\n", oneLine(n))
	}
	if countOf(o.files, "-") > 1 {
		return exitInput, fmt.Errorf("read: standard input (-) can be read only once")
	}
	if err := checkTableFlags("read", o.cfg); err != nil {
		return exitInput, err
	}
	if o.format, err = report.ParseFormat(format, report.FormatText, report.FormatJSON, report.FormatNDJSON, report.FormatHTML); err != nil {
		return exitInput, fmt.Errorf("read: %w", err)
	}
	if o.text.Sort, err = report.ParseSortKey(sortKey); err != nil {
		return exitInput, fmt.Errorf("read: %w", err)
	}
	if o.top < 0 {
		return exitInput, fmt.Errorf("read: --top %d: want 0 or more flows", o.top)
	}
	stdout, closeOut, err := openOutput(o.out, o.force, stdout)
	if errors.Is(err, errOutputExists) {
		return exitInput, fmt.Errorf("read: -o %w (give --force to replace it)", err)
	}
	if err != nil {
		return exitInput, fmt.Errorf("read: -o %w", err)
	}
	defer closeOut()
	useColor, err := colorWanted(o.color, stdout)
	if err != nil {
		return exitInput, err
	}
	if o.filter != "" {
		// Compile once up front so a bad expression is one clear error
		// before any file is read.
		if _, err := capture.NewFilter(o.filter, capture.LinkEthernet, 0); err != nil {
			return exitInput, fmt.Errorf("read: %w", err)
		}
	}

	switch o.format {
	case report.FormatNDJSON:
		o.sink = report.NewNDJSON(stdout)
	case report.FormatJSON:
		o.sink = report.NewJSON(stdout)
	case report.FormatHTML:
		o.sink = report.NewHTML(stdout, o.top)
	case report.FormatText:
		o.text.Palette, o.text.Verbose, o.text.Top = report.NewPalette(useColor), o.verbose, o.top
		o.sink = report.NewText(stdout, o.text)
	}
	if o.format == report.FormatText || !isTerminal(stdout) { // records as they come would overwrite it
		o.progress = startProgress(stderr, o.files)
	}
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(readGCPercent))
	}
	o.intr = catchInterrupt()
	defer o.intr.release()
	if countOf(o.files, "-") > 0 {
		stdin = o.intr.reader(stdin)
	}
	results := readAll(o, stdin)
	o.progress.stop()
	err = o.sink.Close(&report.Run{Inputs: results})
	if err == nil {
		err = closeOut()
	}
	if err != nil {
		return exitInput, fmt.Errorf("writing output: %w", err)
	}
	code := exitOK
	if sig := o.intr.signal(); sig != nil {
		fmt.Fprintf(stderr, "rwin: stopped by %s: the results cover the packets read before it\n", sigName(sig))
		code = exitCode(sig)
	}
	for _, r := range results {
		for _, w := range r.Sum.Warnings {
			fmt.Fprintf(stderr, "rwin: warning: %s\n", oneLine(w))
		}
		if r.Sum.MoreWarned > 0 {
			fmt.Fprintf(stderr, "rwin: warning: %s: %d more packet warnings not shown\n", shown(r.Name), r.Sum.MoreWarned)
		}
		if r.Err != nil {
			msg := oneLine(r.Err.Error())
			if errors.Is(r.Err, capture.ErrTruncated) {
				msg += fmt.Sprintf(" (results cover the %d packets read before the cut)", r.Sum.Packets)
			}
			fmt.Fprintf(stderr, "rwin: %s\n", msg)
			if code == exitOK {
				code = exitInput
			}
		}
	}
	return code, nil
}

// readGCPercent is the garbage collector's target while rwin read runs,
// unless GOGC sets it. Live flow state and the rows kept for the output
// are most of the heap, and Go's default (100) lets the heap grow to
// twice what is live before collecting: on the benchmark capture (make
// bench) 50 cut peak RSS from 70 MB to 61 MB for 4% more wall time, 33
// to 53 MB for 10% more.
const readGCPercent = 50

// lingerHelp documents --linger for every command that reads captures.
var lingerHelp = fmt.Sprintf("how long (capture time) an unanswered, data-less or half-closed flow is kept for late packets; "+
	"one that ended cleanly (RST, or both FINs acknowledged) leaves after at most %v", analyze.DefaultClosedLinger)

// checkTableFlags rejects a --linger or --max-flows that makes no sense,
// as rwin live does: a flow table of no flows, or flows that leave before
// they arrive.
func checkTableFlags(cmd string, cfg analyze.Config) error {
	switch {
	case cfg.Linger <= 0:
		return fmt.Errorf("%s: --linger must be positive (got %v)", cmd, cfg.Linger)
	case cfg.MaxFlows < 1:
		return fmt.Errorf("%s: --max-flows must be at least 1 (got %d)", cmd, cfg.MaxFlows)
	}
	return nil
}

// readAll analyzes the inputs, several at once (one per CPU), and returns
// their results in the order given; with --merge, the one result of the
// inputs read as one capture. For --format json, whose document lists the
// inputs' flows one input after the other as they finish, one at a time
// (each still analyzed and encoded on every CPU).
func readAll(o readOptions, stdin io.Reader) []fileResult {
	if o.merge && len(o.files) > 1 {
		return []fileResult{readMerged(o, stdin)}
	}
	later := ringLater(o.files)
	results := make([]fileResult, len(o.files))
	parallel := runtime.GOMAXPROCS(0)
	if o.format == report.FormatJSON {
		parallel = 1 // the document lists the inputs' flows one input after the other
	}
	// Inputs read at once share the CPUs: one file's shards on every CPU
	// beside another file's would only hand segments around.
	o.cfg.CPUs = max(1, runtime.GOMAXPROCS(0)/min(parallel, len(o.files)))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, name := range o.files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			results[i] = readOne(i, name, o, stdin, later[i])
			<-sem
		}()
	}
	wg.Wait()
	return results
}

// openCapture opens a capture file, or standard input for "-".
func openCapture(name string, stdin io.Reader) (capture.Source, error) {
	if name == "-" {
		return capture.NewReader(stdin, "-")
	}
	return capture.Open(name)
}

// ringLater says which inputs are ring buffer files after the first of
// their series: by name alone, or because an earlier-numbered file of the
// same series is among the inputs.
func ringLater(files []string) []bool {
	later := make([]bool, len(files))
	first := map[string]int{}
	for _, f := range files {
		if set, n, _, ok := capture.RingFile(f); ok {
			if m, seen := first[set]; !seen || n < m {
				first[set] = n
			}
		}
	}
	for i, f := range files {
		set, n, byName, ok := capture.RingFile(f)
		later[i] = ok && (byName || n > first[set])
	}
	return later
}

func readOne(in int, name string, o readOptions, stdin io.Reader, ringLater bool) fileResult {
	res := fileResult{Name: name}
	src, err := openCapture(name, stdin)
	if err != nil {
		res.Err = err
		res.Sum.Source = name
		o.endInput(in, &res)
		return res
	}
	defer src.Close()
	return analyzeSource(in, name, o.intr.source(o.progress.source(name, src)), o, res, ringLater)
}

// readMerged reads every input as one capture, in timestamp order.
func readMerged(o readOptions, stdin io.Reader) fileResult {
	name := mergedName(o.files)
	res := fileResult{Name: name}
	srcs := make([]capture.Source, 0, len(o.files))
	for _, f := range o.files {
		src, err := openCapture(f, stdin)
		if err != nil {
			for _, s := range srcs {
				s.Close()
			}
			res.Err = err
			res.Sum.Source = name
			o.endInput(0, &res)
			return res
		}
		srcs = append(srcs, o.progress.source(f, src))
	}
	src := o.intr.source(capture.Merge(name, srcs...))
	defer src.Close()
	return analyzeSource(0, name, src, o, res, false)
}

// mergedName names a merged set of files in messages and flow records.
func mergedName(files []string) string {
	if len(files) <= 3 {
		return strings.Join(files, "+")
	}
	return fmt.Sprintf("%s+…+%s (%d files)", files[0], files[len(files)-1], len(files))
}

// analyzeSource analyzes one source into res. ringLater says the source
// is a ring buffer's file other than the first, read alone: flows found
// without their SYN may have begun in the file before.
func analyzeSource(in int, name string, src capture.Source, o readOptions, res fileResult, ringLater bool) fileResult {
	var keep func(*capture.Packet) bool
	var filter *capture.Filter
	if o.filter != "" {
		// Compiled per link type on first use; the expression was checked
		// in cmdRead.
		filter, _ = capture.NewFilter(o.filter, capture.LinkEthernet, 0)
		keep = filter.Match
	}
	cfg := o.cfg
	c := newCollector(in, name, o.sink, o.format == report.FormatNDJSON, &cfg)
	c.ringLater = ringLater
	res.Sum = analyze.Run(src, keep, cfg, c.add)
	c.done(&res)
	if noSYN := c.noSYN; noSYN > 0 {
		res.Sum.Warnings = append(res.Sum.Warnings, fmt.Sprintf("%s: a ring buffer's file after the first (dumpcap -b, tcpdump -C): "+
			"%s began without a SYN here, and their handshakes may be in the file before; rwin read --merge reads the set as one capture",
			name, plural(noSYN, "flow")))
	}
	res.Err = res.Sum.Err
	if res.Err == nil && filter != nil && filter.Err() != nil {
		res.Err = fmt.Errorf("%s: filter: %w", name, filter.Err())
	}
	o.endInput(in, &res)
	return res
}

// colorWanted decides whether to color text output: never with NO_COLOR
// set (https://no-color.org) or when stdout is not a terminal, unless
// --color=always.
func colorWanted(mode string, out io.Writer) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		if _, set := os.LookupEnv("NO_COLOR"); set {
			return false, nil
		}
		f, ok := out.(*os.File)
		if !ok {
			return false, nil
		}
		st, err := f.Stat()
		return err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb", nil
	}
	return false, fmt.Errorf("unknown --color %q (want auto, always or never)", mode)
}

// endInput tells the sink an input has no more flows.
func (o *readOptions) endInput(in int, res *fileResult) {
	o.sink.EndInput(in, res)
}
