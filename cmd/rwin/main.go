// Command rwin analyzes TCP window-scaling negotiation in packet captures:
// what receive window each side of every flow really got, and if it is too
// small, who shrank it.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes; scripts and CI depend on them.
const (
	exitOK       = 0 // analysis done, nothing at or above the fail level
	exitFindings = 1 // `rwin check`: policy violations
	exitInput    = 2 // usage error, or an input that could not be (fully) read
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// errUsage marks command-line mistakes; the message has been printed.
var errUsage = errors.New("usage")

const topUsage = `rwin — what TCP receive window did each side really get, and who shrank it?

Usage:
  rwin read [flags] FILE... [BPF expression]   analyze captures (pcap, pcapng; - for stdin)
  rwin live -i IFACE [flags] [BPF expression]  analyze an interface as traffic flows (-D lists them)
  rwin diff [flags] A.pcap B.pcap              prove what the path did, from captures at both ends
  rwin check --policy FILE CAPTURE|DIR...      apply a CI policy; exit 1 on violations
  rwin rules [--format text|json|markdown]     list the findings rwin can report
  rwin version                                 print the version

Run 'rwin read -h', 'rwin live -h', 'rwin diff -h' or 'rwin check -h' for their flags.
`

// ownsProcess is set by main: the command run is the whole process, so
// rwin live may drop the process's privileges. Tests that run commands in
// their own process leave it false, as a drop would outlast the command.
var ownsProcess bool

func main() {
	ownsProcess = true
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return exitInput
	}
	var err error
	code := exitOK
	switch args[0] {
	case "read":
		code, err = cmdRead(args[1:], stdin, stdout, stderr)
	case "live":
		code, err = cmdLive(args[1:], stdout, stderr)
	case "diff":
		code, err = cmdDiff(args[1:], stdout, stderr)
	case "check":
		code, err = cmdCheck(args[1:], stdin, stdout, stderr)
	case "rules":
		err = cmdRules(args[1:], stdout, stderr)
	case "version", "--version", "-V":
		fmt.Fprintf(stdout, "rwin %s\n", version)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, topUsage)
	default:
		fmt.Fprintf(stderr, "rwin: unknown command %q\n\n%s", args[0], topUsage)
		return exitInput
	}
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "rwin: %s\n", oneLine(err.Error()))
		}
		return exitInput
	}
	return code
}

// oneLine folds a message onto one line, so every error is one line, and
// escapes what a terminal would obey in it (see shown): messages quote
// file names and other outside text.
func oneLine(s string) string {
	return shown(strings.Join(strings.Fields(s), " "))
}
