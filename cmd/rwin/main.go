// Command rwin analyzes TCP window-scaling negotiation in packet captures:
// what receive window each side of every flow really got, and if it is too
// small, who shrank it.
package main

import (
	"fmt"
	"io"
	"os"
	"rwin/cmd/rwin/report"
)

// Exit codes; scripts and CI depend on them.
const (
	exitOK       = 0 // analysis done, nothing at or above the fail level
	exitFindings = 1 // `rwin check`: policy violations
	exitInput    = 2 // usage error, or an input that could not be (fully) read
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

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
		writeTopUsage(stderr)
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
		code, err = cmdRules(args[1:], stdout)
	case "version", "--version", "-V":
		fmt.Fprintf(stdout, "rwin %s\n", version)
	case "help":
		return cmdHelp(args[1:], stdout, stderr)
	case "-h", "-help", "--help":
		writeTopUsage(stdout)
	default:
		fmt.Fprintf(stderr, "rwin: unknown command %q (commands: %s; rwin -h describes them)\n", shown(args[0]), commandNames())
		return exitInput
	}
	if err != nil {
		fmt.Fprintf(stderr, "rwin: %s\n", oneLine(err.Error()))
		return exitInput
	}
	return code
}

// oneLine folds a message onto one line, so every error is one line, and
// escapes what a terminal would obey in it (see shown): messages quote
// file names and other outside text.
func oneLine(s string) string { return report.OneLine(s) }
