package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"rwin/analyze"
	"rwin/capture"
	"rwin/cmd/rwin/report"
)

// liveOptions are the flags of `rwin live`.
type liveOptions struct {
	iface    string
	list     bool
	count    uint64
	duration time.Duration
	interval time.Duration
	format   string
	color    string
	verbose  bool
	write    string
	output   string // -o: the stream goes to this file, reopened on SIGHUP
	metrics  string // --metrics: serve Prometheus metrics on this address
	user     string // -Z: after opening the capture, run as this user
	capture  capture.LiveConfig
	cfg      analyze.Config
}

// parseLive reads the command line of `rwin live`. Words that are not
// flags form the BPF filter, as with tcpdump. -h writes the help to help.
func parseLive(args []string, help io.Writer) (liveOptions, error) {
	var o liveOptions
	var bufKiB int
	fs := flag.NewFlagSet("live", flag.ContinueOnError)
	fs.StringVar(&o.iface, "i", "", "capture on this `interface` (rwin live -D lists them)")
	fs.BoolVar(&o.list, "D", false, "list the interfaces rwin can capture on, and exit")
	fs.StringVar(&o.capture.Filter, "f", "", "BPF filter `expression`, as tcpdump takes it (or give it after the flags)")
	fs.Uint64Var(&o.count, "c", 0, "stop after `N` packets (0: no limit)")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (0: until interrupted)")
	fs.DurationVar(&o.interval, "interval", 0, "every this long, summarize the flows in progress on standard error, worst windows first (0: never)")
	fs.DurationVar(&o.cfg.IdleTimeout, "idle", analyze.DefaultIdleTimeout, "report a flow once it has been quiet this long")
	fs.DurationVar(&o.cfg.Linger, "linger", analyze.DefaultLiveLinger, "report a closed flow (FIN both ways, or RST) once quiet this long, so late packets still count")
	fs.IntVar(&o.cfg.MaxFlows, "max-flows", analyze.DefaultMaxFlows, "cap of `N` flows in progress; past it the least recently active is reported early and counted as evicted")
	fs.StringVar(&o.format, "format", "text", "output `format`: text, json or ndjson (one line per flow as it ends)")
	fs.StringVar(&o.color, "color", "auto", "`when` to color text output: auto, always or never (NO_COLOR is honored)")
	fs.BoolVar(&o.verbose, "v", false, "per-flow detail in text output")
	fs.StringVar(&o.write, "w", "", "also write every captured packet to this pcap `file`")
	fs.StringVar(&o.output, "o", "", "write the report to this `file` instead of standard output, appending; reopened on SIGHUP (logrotate)")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics at http://`addr`/metrics (e.g. :9273; also /healthz)")
	fs.StringVar(&o.user, "Z", "", "once the capture is open, drop root and run as this `user` (as tcpdump -Z)")
	fs.IntVar(&o.capture.Snaplen, "s", capture.DefaultLiveSnaplen, "snapshot length: `bytes` kept of each packet (the default keeps every header)")
	fs.IntVar(&bufKiB, "B", capture.DefaultLiveBuffer>>10, "`size` of the kernel capture buffer, in KiB")
	fs.BoolVar(&o.capture.Promiscuous, "p", false, "promiscuous mode: also capture traffic not addressed to this host")
	pos, err := parseArgs(fs, args, help)
	if err != nil {
		return o, err
	}
	if expr := strings.Join(pos, " "); expr != "" {
		if o.capture.Filter != "" {
			return o, errors.New("live: give the filter either with -f or after the flags, not both")
		}
		o.capture.Filter = expr
	}
	if o.list {
		return o, nil
	}
	if o.iface == "" {
		return o, noInterface()
	}
	switch o.format {
	case "text", "json", "ndjson":
	default:
		return o, fmt.Errorf("live: unknown format %q (want text, json or ndjson)", o.format)
	}
	switch {
	case o.capture.Snaplen < 1 || o.capture.Snaplen > 262144:
		return o, fmt.Errorf("live: snapshot length %d out of range (1 to 262144)", o.capture.Snaplen)
	case bufKiB < 1 || bufKiB > 1<<21:
		return o, fmt.Errorf("live: buffer size %d KiB out of range (1 to 2097152)", bufKiB)
	case o.duration < 0 || o.interval < 0:
		return o, errors.New("live: --duration and --interval cannot be negative")
	case o.cfg.IdleTimeout <= 0:
		return o, errors.New("live: --idle must be positive: flows in progress would never be reported")
	case o.cfg.Linger <= 0:
		return o, errors.New("live: --linger must be positive")
	case o.cfg.MaxFlows < 1:
		return o, errors.New("live: --max-flows must be at least 1")
	case o.write == "-":
		return o, errors.New("live: -w - is not supported: the report goes to standard output; name a file")
	case o.output != "" && o.format == "json":
		return o, errors.New("live: -o takes --format ndjson or text: one JSON document cannot be rotated, and it grows with every flow")
	case o.output == "-":
		return o, errors.New("live: -o -: standard output is the default; name a file")
	}
	o.capture.BufferSize = bufKiB << 10
	return o, nil
}

func cmdLive(args []string, stdout, stderr io.Writer) (int, error) {
	o, err := parseLive(args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, nil
		}
		return exitInput, err
	}
	if o.list {
		return exitOK, listInterfaces(stdout)
	}
	errColor, err := colorWanted(o.color, stderr)
	if err != nil {
		return exitInput, err
	}

	src, err := capture.OpenLive(o.iface, o.capture)
	if err != nil {
		return exitInput, liveOpenError(err)
	}
	defer src.Close()

	var pcapOut *bufio.Writer
	var pw *capture.PcapWriter
	var pcapFile *os.File
	if o.write != "" {
		f, err := createOutput(o.write, 0o644, false)
		if err != nil {
			return exitInput, fmt.Errorf("live: -w: %w", err)
		}
		defer f.Close()
		pcapFile = f
		pcapOut = bufio.NewWriterSize(f, 64<<10)
		if pw, err = capture.NewPcapWriter(pcapOut, src.Link(), src.Snaplen()); err != nil {
			return exitInput, fmt.Errorf("live: -w %s: %w", o.write, err)
		}
	}

	sinks, err := openLiveSinks(o, stdout)
	if err != nil {
		return exitInput, err
	}
	defer sinks.close()
	if ownsProcess {
		if err := dropPrivileges(o.user, sinks.files(pcapFile)...); err != nil {
			return exitInput, fmt.Errorf("live: %w", err)
		}
	}
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigc)
	useColor, _ := colorWanted(o.color, sinks.stream)
	out := newLiveOutput(o, sinks.stream, useColor)
	out.metrics = sinks.metrics
	if err := out.start(); err != nil {
		return exitInput, fmt.Errorf("writing output: %w", err)
	}
	fmt.Fprintf(stderr, "rwin: listening on %s, link type %d, snapshot length %d bytes; Ctrl-C to stop\n",
		src.Name(), src.Link(), src.Snaplen())
	if sinks.server != nil {
		fmt.Fprintf(stderr, "rwin: serving metrics on http://%s/metrics\n", sinks.server.Addr())
	}

	stop := &liveStop{src: src}
	var reopen atomic.Bool
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case sig := <-sigc:
				if sig == syscall.SIGHUP && sinks.log != nil {
					// The capture loop reopens: it owns the writer.
					reopen.Store(true)
					continue
				}
				// SIGHUP otherwise means the terminal went away (a dropped
				// SSH session): stop as cleanly as on SIGTERM. A second
				// signal then ends the process the usual way.
				signal.Stop(sigc)
				stop.stop(signalName(sig))
				return
			case <-done:
				return
			}
		}
	}()
	if o.duration > 0 {
		t := time.AfterFunc(o.duration, func() { stop.stop("duration") })
		defer t.Stop()
	}

	links := watchLink(src.Name(), done)
	linkLog := &linkReport{w: stderr, iface: src.Name()}

	sess := analyze.NewSession(src.Name(), o.cfg, out.flow)
	var (
		pkt       capture.Packet
		failure   error // what ended the capture early
		lastFlush = time.Now().UnixNano()
		nextSum   = lastFlush + int64(o.interval)
	)
capture:
	for {
		var now int64
		switch err := src.Next(&pkt); {
		case err == nil:
			if pw != nil {
				if err := pw.Write(&pkt); err != nil {
					failure = fmt.Errorf("live: -w %s: %w", o.write, err)
					stop.stop("error")
				}
			}
			sess.Add(&pkt)
			if o.count > 0 && pkt.Index >= o.count {
				stop.stop("count")
			}
			now = pkt.Time
		case errors.Is(err, capture.ErrNoPacket):
			now = time.Now().UnixNano()
			sess.Advance(now)
		case err == io.EOF:
			break capture
		default:
			failure = err
			stop.stop("error")
			break capture
		}
		if out.err != nil {
			failure = fmt.Errorf("writing output: %w", out.err)
			stop.stop("error")
		}
		if reopen.Swap(false) {
			if err := out.reopen(sinks.log); err != nil {
				fmt.Fprintf(stderr, "rwin: warning: %s; still writing to the file open before\n", oneLine(err.Error()))
			}
		}
		select {
		case c := <-links:
			linkLog.change(c)
		default:
		}
		if now-lastFlush >= int64(time.Second) {
			lastFlush = now
			sinks.sample(src, sess)
			// A capture file that is at most a second behind is evidence
			// even if rwin is killed.
			if pcapOut != nil {
				if err := pcapOut.Flush(); err != nil && failure == nil {
					failure = fmt.Errorf("live: -w %s: %w", o.write, err)
					stop.stop("error")
				}
			}
		}
		if o.interval > 0 && now >= nextSum {
			nextSum = now + int64(o.interval)
			writeInterval(stderr, report.NewPalette(errColor), src, sess, now)
		}
	}

	stats, statsErr := src.Stats()
	out.stopping(stop.reason(), sess.Live())
	sum := sess.Close()
	sinks.sample(src, sess)
	if pcapOut != nil {
		if err := pcapOut.Flush(); err != nil && failure == nil {
			failure = fmt.Errorf("live: -w %s: %w", o.write, err)
		}
	}
	capRec := newCaptureRecord(o, src, stop.reason(), stats, statsErr)
	if err := out.finish(sum, capRec); err != nil {
		return exitInput, fmt.Errorf("writing output: %w", err)
	}
	for _, w := range sum.Warnings {
		fmt.Fprintf(stderr, "rwin: warning: %s\n", oneLine(w))
	}
	if sum.MoreWarned > 0 {
		fmt.Fprintf(stderr, "rwin: warning: %s: %d more packet warnings not shown\n", src.Name(), sum.MoreWarned)
	}
	if statsErr != nil {
		fmt.Fprintf(stderr, "rwin: warning: %s\n", oneLine(statsErr.Error()))
	}
	if failure != nil {
		return exitInput, failure
	}
	return exitOK, nil
}

// liveOpenError adds what the user can do about a failure to open the
// interface: the real interfaces for a wrong name, the capabilities for a
// missing permission. libpcap's message for a bad filter is enough.
func liveOpenError(err error) error {
	switch {
	case errors.Is(err, capture.ErrNoInterface):
		return fmt.Errorf("%w; %s", err, interfaceList())
	case errors.Is(err, capture.ErrPermission):
		exe := "$(which rwin)"
		if p, perr := os.Executable(); perr == nil {
			exe = p
		}
		// CAP_NET_RAW alone opens a packet socket, promiscuous mode
		// included (libpcap asks for it per socket, PACKET_MR_PROMISC):
		// TestLiveNeedsOnlyNetRaw runs rwin with nothing else.
		return fmt.Errorf("%w: run as root, or grant rwin the capture capability: sudo setcap cap_net_raw=eip %s", err, exe)
	}
	return err
}

// liveStop records why a capture stopped, first reason wins, and stops
// the source. Safe from any goroutine.
type liveStop struct {
	mu  sync.Mutex
	why string
	src *capture.Live
}

func (s *liveStop) stop(why string) {
	s.mu.Lock()
	if s.why == "" {
		s.why = why
	}
	s.mu.Unlock()
	s.src.Stop()
}

func (s *liveStop) reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.why
}

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "terminated"
	case syscall.SIGHUP:
		return "hangup"
	}
	return "interrupt"
}

// listInterfaces prints the capture devices like tcpdump -D, with their
// addresses.
func listInterfaces(w io.Writer) error {
	ifs, err := capture.Interfaces()
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	for n, i := range ifs {
		var flags []string
		for _, f := range []struct {
			on   bool
			name string
		}{{i.Loopback, "Loopback"}, {i.Up, "Up"}, {i.Running, "Running"}, {i.Wireless, "Wireless"}} {
			if f.on {
				flags = append(flags, f.name)
			}
		}
		if i.Connection != "" {
			flags = append(flags, strings.ToUpper(i.Connection[:1])+i.Connection[1:])
		}
		fmt.Fprintf(bw, "%d.%s", n+1, i.Name)
		if i.Description != "" {
			fmt.Fprintf(bw, " (%s)", i.Description)
		}
		if len(flags) > 0 {
			fmt.Fprintf(bw, " [%s]", strings.Join(flags, ", "))
		}
		fmt.Fprintln(bw)
		for _, a := range i.Addrs {
			fmt.Fprintf(bw, "    %s\n", a)
		}
	}
	return bw.Flush()
}
