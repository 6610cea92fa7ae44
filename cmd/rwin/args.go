package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"rwin/capture"
)

// The argument mistakes people make at 2 a.m., each answered in one line
// that names the fix: a filter written before the captures, as some tools
// take it; rwin live without an interface; rwin diff with one capture or a
// directory; a flag rwin does not know. The commands call these right
// after parsing their flags.

// parseArgs parses a command's flags, which may come before, between or
// after its other arguments, and returns those arguments. -h prints the
// command's help on help and returns flag.ErrHelp; a flag that does not
// parse is a one-line error that points at the help. The flag package
// prints nothing itself.
func parseArgs(fs *flag.FlagSet, args []string, help io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	pos, err := parseInterleaved(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		writeHelp(help, fs)
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%s: %v (rwin %s -h lists the flags)", fs.Name(), err, fs.Name())
	}
	return pos, nil
}

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

// usageResult is what a command returns when its flags do not parse:
// success for -h, which printed the help, a usage error otherwise.
func usageResult(err error) (int, error) {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK, nil
	}
	return exitInput, err
}

// splitFilesAndFilter takes the leading positional arguments that name
// files (or -) as captures, unless -r gave them, and returns the rest
// joined as the filter expression. A word that looks like a capture path
// but does not exist is an error rather than part of a filter, and so is
// a filter followed by captures: tcpdump and rwin take the expression
// last.
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
		if err := misplacedFilter(o.files, pos[i:]); err != nil {
			return "", err
		}
	}
	return strings.Join(pos[i:], " "), nil
}

// misplacedFilter explains a filter given before captures (rest is what
// follows the leading captures files): the words up to the next existing
// file are either a filter in the wrong place or a file name mistyped.
// Without a capture after them, and with captures before them, they are
// the filter where it belongs. A word that names an existing file is
// taken as one: BPF's own words (tcp, port, host, numbers) seldom do.
func misplacedFilter(files, rest []string) error {
	next := -1
	for j, w := range rest {
		if _, err := os.Stat(w); err == nil || w == "-" {
			next = j
			break
		}
	}
	if next == 0 || len(rest) == 0 || (next < 0 && len(files) > 0) {
		return nil
	}
	words := rest
	if next > 0 {
		words = rest[:next]
		for _, w := range rest[next:] {
			if _, err := os.Stat(w); err == nil || w == "-" {
				files = append(files, w)
			}
		}
	}
	expr := strings.Join(words, " ")
	if !mayBeFilter(expr) {
		return fmt.Errorf("read: %s: no such file, and not a BPF filter either", expr)
	}
	if len(files) == 0 {
		return fmt.Errorf("read: no capture given, only the filter %q: name the captures before it: rwin read FILE... '%s'", expr, expr)
	}
	return fmt.Errorf("read: %q is a filter, not a capture: filters go after the captures: rwin read %s '%s'",
		expr, strings.Join(files, " "), expr)
}

// mayBeFilter reports whether libpcap compiles expr, or whether this
// build cannot tell because it has no capture library.
func mayBeFilter(expr string) bool {
	_, err := capture.NewFilter(expr, capture.LinkEthernet, 0)
	return err == nil || errors.Is(err, capture.ErrNoPcap)
}

// looksLikePath tells a capture's name, mistyped or missing, from a word of
// a filter.
func looksLikePath(s string) bool {
	return strings.ContainsAny(s, "/\\") || strings.Contains(s, ".pcap") || strings.HasSuffix(s, ".cap")
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

// expandDirs replaces each directory among the inputs of rwin read by the
// captures in it, by the rules rwin check searches with (expandCaptures).
// Other names, missing ones included, stay for the reader to report.
func expandDirs(files []string) (out, notes []string, err error) {
	for _, f := range files {
		if st, serr := os.Stat(f); f == "-" || serr != nil || !st.IsDir() {
			out = append(out, f)
			continue
		}
		found, n, err := expandCaptures([]string{f})
		if err != nil {
			return nil, nil, err
		}
		out = append(out, found...)
		notes = append(notes, n...)
	}
	return out, notes, nil
}

// noReadInput is the error of rwin read given no capture.
var noReadInput = errors.New("read: no capture given: rwin read FILE... (a directory reads the captures in it; - is standard input)")

// diffInputs checks that rwin diff got two capture files: one from each
// capture point, not a directory of them.
func diffInputs(pos []string) error {
	if len(pos) != 2 {
		return fmt.Errorf("diff: needs two captures of the same traffic, one from each capture point, got %d: rwin diff A.pcap B.pcap", len(pos))
	}
	for _, p := range pos {
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			continue
		}
		if found, _, err := expandCaptures([]string{p}); err == nil && len(found) == 2 {
			return fmt.Errorf("diff: %s is a directory: diff compares two capture files, e.g. rwin diff %s %s", p, found[0], found[1])
		}
		return fmt.Errorf("diff: %s is a directory: diff compares two capture files: rwin diff A.pcap B.pcap", p)
	}
	return nil
}

// noInterface is the error of rwin live without -i: it names the
// interfaces there are, so the fix is one copy away.
func noInterface() error {
	return fmt.Errorf("live: no interface given: name one with -i (%s)", interfaceList())
}

// interfaceList names the interfaces rwin can capture on, for messages.
func interfaceList() string {
	ifs, err := capture.Interfaces()
	if err != nil {
		return "rwin live -D lists them; " + err.Error()
	}
	if len(ifs) == 0 {
		return "none found; rwin live -D lists them"
	}
	names := make([]string, len(ifs))
	for i, f := range ifs {
		names[i] = f.Name
	}
	return "interfaces: " + strings.Join(names, ", ")
}

// checkInputs checks that rwin check got a policy and something to apply
// it to.
func checkInputs(policy string, pos []string) error {
	switch {
	case policy == "":
		return errors.New("check: no policy given: rwin check --policy FILE CAPTURE|DIR... (README.md, \"CI: rwin check\", describes the format)")
	case len(pos) == 0:
		return fmt.Errorf("check: no captures given: rwin check --policy %s CAPTURE|DIR...", policy)
	}
	return nil
}
