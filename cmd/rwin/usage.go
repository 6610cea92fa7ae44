package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// command is one subcommand's help: how it is called, what it does, and
// examples to copy. Its flags come from its FlagSet, so the help lists
// every flag the command takes.
type command struct {
	name     string
	summary  string   // one line, for rwin -h
	usage    []string // the ways to call it, after "rwin "
	about    string   // what it does, wrapped by hand
	examples []string // command lines, each with what it shows after #
}

// commands is every subcommand, in the order rwin -h lists them.
var commands = []command{
	{
		name:    "read",
		summary: "analyze captures (pcap, pcapng, NetMon; - for stdin; a directory reads the captures in it)",
		usage:   []string{"read [flags] FILE|DIR... [BPF expression]", "read [flags] -r FILE [-r FILE...] [BPF expression]"},
		about: `Analyzes every TCP flow in the captures: handshake options, what was
negotiated, the effective receive window each side advertised, RTT,
throughput and findings. FILE may be - for standard input; a directory is
searched for .pcap, .pcapng and .cap files, as rwin check does. Without -r,
the arguments that name existing files are captures and the rest is a BPF
filter, which goes after the captures. Each file is a capture of its own
unless --merge makes them one.`,
		examples: []string{
			"rwin read -v rdp.pcapng                    # every flow, with per-flow detail",
			"rwin read cap.pcap tcp port 3389           # only RDP: the filter goes last",
			"rwin read --format ndjson captures/ | jq . # one JSON record per flow",
		},
	},
	{
		name:    "live",
		summary: "analyze an interface as traffic flows (-D lists the interfaces)",
		usage:   []string{"live -i IFACE [flags] [BPF expression]", "live -D"},
		about: `Captures on a network interface and reports each TCP flow when it ends
(FIN both ways or RST, then the linger time; or the idle timeout), with
the same analysis as rwin read. On Ctrl-C (SIGINT) or SIGTERM it reports
the flows still in progress, then the capture's statistics, including the
packets the kernel dropped. SIGHUP reopens the -o file (after logrotate
renamed it); without -o it stops the capture like SIGTERM. Capturing needs
root or the capability cap_net_raw; once the capture is open, rwin drops
every capability it holds, and with -Z becomes that user. When the
interface goes down or comes back, a line on standard error says so; the
capture goes on.`,
		examples: []string{
			"rwin live -D                                # the interfaces, with their addresses",
			"sudo rwin live -i eth0 tcp port 3389        # each RDP flow as it ends; Ctrl-C for the rest",
			"sudo rwin live -i eth0 -w evidence.pcap tcp # and keep the packets",
		},
	},
	{
		name:    "diff",
		summary: "prove what the path did, from captures at both ends",
		usage:   []string{"diff [flags] A.pcap B.pcap"},
		about: `Compares two captures of the same traffic taken at two points, typically
one at each end: pairs the flows seen in both (also across NAT and
sequence-number rewriting) and proves what the path between the capture
points did to each — options stripped, NOP-filled or rewritten, windows
rewritten, segments that left one point and never reached the other, data
beyond the unscaled window dropped — and what receive window each end
really got. Each capture is read twice, so standard input cannot be used;
a pipe (a FIFO, a shell's <(…)) is first copied to a temporary file.`,
		examples: []string{
			"rwin diff client.pcap server.pcap                # what changed between the ends",
			"rwin diff --format ndjson a.pcapng b.pcap | jq . # pairs, unpaired flows, a summary",
		},
	},
	{
		name:    "check",
		summary: "apply a CI policy to captures; exit 1 on violations",
		usage:   []string{"check --policy FILE [flags] CAPTURE|DIR..."},
		about: `Analyzes the captures (directories are searched for .pcap, .pcapng and .cap
files; - is standard input) and applies a CI policy: which findings fail
the run at which severity and confidence, thresholds on negotiated options
and windows per service port, and the findings each capture must and must
not raise. The policy format is in README.md ("CI: rwin check").

Exit status: 0 every check passed, 1 policy violations, 2 a usage, policy
or input error.`,
		examples: []string{
			"rwin check --policy fixtures/policy.json fixtures/captures/lab",
			"rwin check --policy policy.json --junit report.xml session.pcapng # JUnit XML for CI",
		},
	},
	{
		name:    "rules",
		summary: "the findings rwin can report; rwin rules ID explains one",
		usage:   []string{"rules [--format text|json|markdown] [ID]"},
		about: `Lists the finding catalog: each rule's ID, highest severity, name and
what it detects. With an ID, shows that rule in full: what it detects and
how, its severity, the evidence its findings cite and the advice they give.
Policies (rwin check) name rules by these IDs.`,
		examples: []string{
			"rwin rules                  # every rule, with what it detects",
			"rwin rules wscale-stripped  # one rule in full",
		},
	},
	{
		name:     "version",
		summary:  "print the version",
		usage:    []string{"version"},
		about:    "Prints rwin's version.",
		examples: []string{"rwin version"},
	},
	{
		name:     "help",
		summary:  "this overview, or a command's help (rwin help read is rwin read -h)",
		usage:    []string{"help [COMMAND]"},
		about:    "Prints the list of commands, or with a command's name, its help: the same as rwin COMMAND -h.",
		examples: []string{"rwin help read"},
	},
}

// lookupCommand returns the help of the named command, or nil.
func lookupCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// writeTopUsage writes rwin -h: one line per command.
func writeTopUsage(w io.Writer) {
	fmt.Fprint(w, "rwin — what TCP receive window did each side really get, and who shrank it?\n\nUsage:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  rwin %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, "\nrwin help COMMAND (or rwin COMMAND -h) shows a command's flags and examples.\n"+
		"Exit status: 0 ok, 1 policy violations (check), 2 a usage or input error.\n")
}

// writeHelp writes a command's help: its usage lines, what it does,
// examples, and each of its flags on one line with what it means.
func writeHelp(w io.Writer, fs *flag.FlagSet) {
	c := lookupCommand(fs.Name())
	if c == nil { // every FlagSet is named after its command
		c = &command{name: fs.Name(), usage: []string{fs.Name() + " [flags]"}}
	}
	writeCommandHelp(w, c, fs)
}

func writeCommandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	for i, u := range c.usage {
		lead := "Usage: "
		if i > 0 {
			lead = "       "
		}
		fmt.Fprintf(w, "%srwin %s\n", lead, u)
	}
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", c.about)
	}
	if len(c.examples) > 0 {
		fmt.Fprint(w, "\nExamples:\n")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	if fs == nil {
		return
	}
	fmt.Fprint(w, "\nFlags:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		arg, meaning := flag.UnquoteUsage(f)
		name := "-" + f.Name
		if len(f.Name) > 1 {
			name = "--" + f.Name
		}
		if arg != "" {
			name += " " + strings.ToUpper(arg)
		}
		if def := f.DefValue; def != "" && def != "0" && def != "false" && def != "0s" {
			meaning += fmt.Sprintf(" (default %s)", def)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, meaning)
	})
	tw.Flush()
}

// cmdHelp is rwin help [COMMAND].
func cmdHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeTopUsage(stdout)
		return exitOK
	}
	c := lookupCommand(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "rwin: help: unknown command %q (commands: %s)\n", shown(args[0]), commandNames())
		return exitInput
	}
	switch c.name {
	case "version", "help":
		writeCommandHelp(stdout, c, nil)
		return exitOK
	}
	return run([]string{c.name, "-h"}, nil, stdout, stderr)
}

// commandNames lists the commands for messages.
func commandNames() string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}
