package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"rwin/analyze"
	"rwin/capture"
)

// readOptions are the flags of `rwin read`.
type readOptions struct {
	files    []string
	filter   string
	format   string
	color    string
	verbose  bool
	cfg      analyze.Config
	palette  palette     // text: colors of the rows rendered as flows finish
	stream   *flowStream // ndjson: where flow records go as flows finish
	progress *progress   // the progress line on a terminal's stderr, or nil
	out      string      // -o: write the report there
	top      int         // html: flows charted by bytes and by ceiling
	html     *htmlReport // html: what the page shows, as flows finish
}

// fileResult is everything one input produced.
type fileResult struct {
	name     string
	flows    int            // flows finished, listed or not
	severity map[string]int // findings by severity, over every flow
	listed   []*listedFlow  // text: the flows the table lists, in ID order
	unlisted int            // text: flows beyond maxListed left out
	records  []json.RawMessage
	sum      analyze.Summary
	err      error // could not open, or reading ended early
	outErr   error // a flow record could not be encoded
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func cmdRead(args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	var o readOptions
	var rFiles multiFlag
	fs := flag.NewFlagSet("read", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&rFiles, "r", "read this capture `file` (repeatable; - for stdin)")
	fs.StringVar(&o.filter, "f", "", "BPF filter `expression`, as tcpdump takes it (or give it after the files)")
	fs.StringVar(&o.format, "format", "text", "output `format`: text, json, ndjson or html")
	fs.StringVar(&o.out, "o", "", "write the output to `file` instead of standard output")
	fs.IntVar(&o.top, "top", htmlDefaultTop, "html: also chart the `N` flows with the most bytes and the N with the smallest RWIN/RTT ceiling")
	fs.StringVar(&o.color, "color", "auto", "color text output: auto, always or never (NO_COLOR is honored)")
	fs.BoolVar(&o.verbose, "v", false, "per-flow detail in text output")
	fs.IntVar(&o.cfg.MaxFlows, "max-flows", analyze.DefaultMaxFlows, "cap on live flows; the least recently active is finished early past it")
	fs.DurationVar(&o.cfg.Linger, "linger", analyze.DefaultLinger, lingerHelp)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: rwin read [flags] FILE... [BPF expression]
       rwin read [flags] -r FILE [-r FILE...] [BPF expression]

Analyzes every TCP flow in the captures: handshake options, what was
negotiated, the effective receive window each side advertised, RTT,
throughput and findings. FILE may be - for standard input. Without -r, the
arguments that name existing files are captures and the rest is a filter.

Flags:
`)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
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
		fs.Usage()
		return exitInput, errUsage
	}
	if countOf(o.files, "-") > 1 {
		return exitInput, fmt.Errorf("read: standard input (-) can be read only once")
	}
	switch o.format {
	case "text", "json", "ndjson":
	case "html":
		if o.top < 0 {
			return exitInput, fmt.Errorf("read: --top %d: want 0 or more flows", o.top)
		}
		o.html = newHTMLReport(o.top)
	default:
		return exitInput, fmt.Errorf("read: unknown format %q (want text, json, ndjson or html)", o.format)
	}
	stdout, closeOut, err := openOutput(o.out, stdout)
	if err != nil {
		return exitInput, fmt.Errorf("read: %w", err)
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

	o.palette = newPalette(useColor)
	if o.format == "ndjson" {
		o.stream = newFlowStream(stdout)
	}
	if o.format != "ndjson" || !isTerminal(stdout) { // NDJSON lines would overwrite it
		o.progress = startProgress(stderr, o.files)
	}
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(readGCPercent))
	}
	results := readAll(o, stdin)
	o.progress.stop()
	switch o.format {
	case "json":
		err = writeJSON(stdout, results)
	case "ndjson":
		err = o.stream.close(summarize(results))
	case "html":
		err = o.html.writeHTML(stdout, results)
	default:
		err = writeText(stdout, results, o.verbose, o.palette)
	}
	if err == nil {
		err = closeOut()
	}
	if err != nil {
		return exitInput, fmt.Errorf("writing output: %w", err)
	}
	code := exitOK
	for _, r := range results {
		for _, w := range r.sum.Warnings {
			fmt.Fprintf(stderr, "rwin: warning: %s\n", oneLine(w))
		}
		if r.sum.MoreWarned > 0 {
			fmt.Fprintf(stderr, "rwin: warning: %s: %d more packet warnings not shown\n", r.name, r.sum.MoreWarned)
		}
		if r.err != nil {
			msg := oneLine(r.err.Error())
			if errors.Is(r.err, capture.ErrTruncated) {
				msg += fmt.Sprintf(" (results cover the %d packets read before the cut)", r.sum.Packets)
			}
			fmt.Fprintf(stderr, "rwin: %s\n", msg)
			code = exitInput
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

// parseInterleaved parses flags that may come before, between or after the
// positional arguments (rwin read a.pcap -v), tcpdump-style.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// lingerHelp documents --linger for every command that reads captures.
var lingerHelp = fmt.Sprintf("how long (capture time) an unanswered, data-less or half-closed flow is kept for late packets; "+
	"one that ended cleanly (RST, or both FINs acknowledged) leaves after at most %v", analyze.DefaultClosedLinger)

// usageResult is what a command returns when its flags do not parse:
// success for -h, which printed the usage, a usage error otherwise (the
// flag package has printed what was wrong).
func usageResult(err error) (int, error) {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK, nil
	}
	return exitInput, errUsage
}

// splitFilesAndFilter takes the leading positional arguments that name
// files (or -) as captures, unless -r gave them, and returns the rest
// joined as the filter expression. A word that looks like a capture path
// but does not exist is an error rather than part of a filter.
func splitFilesAndFilter(o *readOptions, pos []string) (string, error) {
	i := 0
	if len(o.files) == 0 {
		for ; i < len(pos); i++ {
			if pos[i] == "-" {
				o.files = append(o.files, pos[i])
				continue
			}
			if _, err := os.Stat(pos[i]); err != nil {
				if looksLikePath(pos[i]) {
					return "", fmt.Errorf("%s: %w", pos[i], errors.Unwrap(err))
				}
				break
			}
			o.files = append(o.files, pos[i])
		}
	}
	return strings.Join(pos[i:], " "), nil
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func looksLikePath(s string) bool {
	return strings.ContainsAny(s, "/\\") || strings.Contains(s, ".pcap") || strings.HasSuffix(s, ".cap")
}

// readAll analyzes the inputs, several at once (one per CPU), and returns
// their results in the order given.
func readAll(o readOptions, stdin io.Reader) []fileResult {
	results := make([]fileResult, len(o.files))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, name := range o.files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			results[i] = readOne(name, o, stdin)
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

func readOne(name string, o readOptions, stdin io.Reader) fileResult {
	res := fileResult{name: name}
	src, err := openCapture(name, stdin)
	if err != nil {
		res.err = err
		res.sum.Source = name
		return res
	}
	defer src.Close()
	src = o.progress.source(name, src)
	var keep func(*capture.Packet) bool
	var filter *capture.Filter
	if o.filter != "" {
		// Compiled per link type on first use; the expression was checked
		// in cmdRead.
		filter, _ = capture.NewFilter(o.filter, capture.LinkEthernet, 0)
		keep = filter.Match
	}
	if o.html != nil {
		res.sum = o.html.read(name, src, keep, o.cfg, &res)
	} else {
		c := newCollector(name, &o, &res)
		res.sum = analyze.Run(src, keep, o.cfg, c.add)
		c.done()
	}
	res.err = res.sum.Err
	if res.err == nil && filter != nil && filter.Err() != nil {
		res.err = fmt.Errorf("%s: filter: %w", name, filter.Err())
	}
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

// durationString renders a flow or capture duration.
func durationString(ns int64) string {
	return time.Duration(ns).Round(time.Millisecond).String()
}
