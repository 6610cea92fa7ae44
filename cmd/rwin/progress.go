package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"rwin/capture"
)

// progress shows how far a long read has come, on one line of standard
// error that it rewrites in place: bytes (and the share of the files read
// when their sizes are known), packets, and the rates; for rwin diff,
// which reads its captures once a pass, the pass too. It shows nothing
// for the first second, so short reads stay silent, and nothing at all
// unless standard error is a terminal: a log file or a pipe gets no
// carriage returns. stop clears the line before the results are written.
type progress struct {
	w     io.Writer
	what  string // "capture.pcap", or "3 files"
	total int64  // bytes of all inputs; 0 when one has no known size (stdin)
	// passes is how many times the inputs are read, one after the other
	// (rwin diff); 1 for rwin read.
	passes  int
	start   time.Time
	packets atomic.Int64
	bytes   atomic.Int64 // over every pass
	done    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
}

// Timing of the progress line.
const (
	progressDelay    = time.Second
	progressInterval = 250 * time.Millisecond
	// progressBatch is how many packets a source counts before it
	// publishes them, so the per-packet cost stays one increment.
	progressBatch = 4096
)

// startProgress starts the progress line for reading files, or returns nil
// (a valid, silent *progress) when stderr is not a terminal.
func startProgress(stderr io.Writer, files []string) *progress {
	if !isTerminal(stderr) {
		return nil
	}
	return newProgress(stderr, filesShown(files), files, 1, progressDelay, progressInterval)
}

// startDiffProgress starts the progress line of rwin diff, which reads
// the captures at paths once a pass, or returns nil when stderr is not a
// terminal.
func startDiffProgress(stderr io.Writer, paths []string, passes int) *progress {
	if !isTerminal(stderr) {
		return nil
	}
	return newProgress(stderr, "", paths, passes, progressDelay, progressInterval)
}

// filesShown names the inputs of a read on the progress line.
func filesShown(files []string) string {
	if len(files) > 1 {
		return fmt.Sprintf("%d files", len(files))
	}
	return shown(files[0])
}

// isTerminal reports whether w is a terminal that understands "\r" and
// erasing to the end of the line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newProgress starts a progress line naming what is read, whose size is
// that of the files at paths, each read passes times.
func newProgress(w io.Writer, what string, paths []string, passes int, delay, interval time.Duration) *progress {
	p := &progress{w: w, what: what, passes: passes, start: time.Now(), done: make(chan struct{})}
	for _, name := range paths {
		st, err := os.Stat(name)
		if name == "-" || err != nil || !st.Mode().IsRegular() {
			p.total = 0
			break
		}
		p.total += st.Size()
	}
	p.wg.Add(1)
	go p.draw(delay, interval)
	return p
}

func (p *progress) draw(delay, interval time.Duration) {
	defer p.wg.Done()
	select {
	case <-p.done:
		return
	case <-time.After(delay):
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		fmt.Fprintf(p.w, "\r%s\x1b[K", p.line(time.Since(p.start)))
		select {
		case <-p.done:
			fmt.Fprint(p.w, "\r\x1b[K")
			return
		case <-t.C:
		}
	}
}

// line renders the state after elapsed time.
func (p *progress) line(elapsed time.Duration) string {
	pk, by := p.packets.Load(), p.bytes.Load()
	s := elapsed.Seconds()
	var b strings.Builder
	if p.passes > 1 {
		// rwin diff: the pass says more than the names typed a moment ago
		// or the packet rate, and the line stays within 80 columns.
		pass, in := int64(1), by // in: of this pass
		if p.total > 0 {
			// A pass ends with every byte of the inputs read: the line
			// says so, 100%, until the next pass reads its first.
			pass = min(int64(p.passes), 1+max(by-1, 0)/p.total)
			in -= (pass - 1) * p.total
		}
		fmt.Fprintf(&b, "rwin: diff, pass %d of %d: %d%% of %s, %s packets, %s/s", pass, p.passes,
			min(100, in*100/max(p.total, 1)), byteCount(p.total), packetCount(pk), byteCount(int64(float64(by)/s)))
		return b.String()
	}
	fmt.Fprintf(&b, "rwin: reading %s: ", p.what)
	if p.total > 0 {
		fmt.Fprintf(&b, "%d%% of %s, ", min(100, by*100/p.total), byteCount(p.total))
	} else {
		fmt.Fprintf(&b, "%s, ", byteCount(by))
	}
	fmt.Fprintf(&b, "%s packets, %s packets/s, %s/s", packetCount(pk), packetCount(int64(float64(pk)/s)), byteCount(int64(float64(by)/s)))
	return b.String()
}

// source wraps src, read from the file name, so that its packets and
// bytes count towards the progress line. On a nil *progress it returns src
// itself.
func (p *progress) source(name string, src capture.Source) capture.Source {
	if p == nil {
		return src
	}
	c := &countingSource{Source: src, p: p, size: -1}
	if st, err := os.Stat(name); name != "-" && err == nil && st.Mode().IsRegular() {
		c.size = st.Size()
	}
	return c
}

// stop ends the progress line and erases it. It may be called on nil,
// and more than once.
func (p *progress) stop() {
	if p == nil {
		return
	}
	p.stopped.Do(func() { close(p.done) })
	p.wg.Wait()
}

// countingSource counts the packets and bytes of one source, publishing
// them every progressBatch packets.
type countingSource struct {
	capture.Source
	p       *progress
	size    int64 // of the file; -1 when not known
	packets int64 // not yet published
	offset  int64 // file offset of the end of the last packet read
	shown   int64 // offset already published
}

func (c *countingSource) Next(pkt *capture.Packet) error {
	err := c.Source.Next(pkt)
	if err != nil {
		if err == io.EOF && c.size >= 0 {
			c.offset = c.size // the last record's header and padding
		}
		c.publish()
		return err
	}
	c.packets++
	c.offset = pkt.Offset + int64(len(pkt.Data))
	if c.packets == progressBatch {
		c.publish()
	}
	return nil
}

func (c *countingSource) publish() {
	c.p.packets.Add(c.packets)
	c.p.bytes.Add(c.offset - c.shown)
	c.packets, c.shown = 0, c.offset
}

// packetCount renders a packet count: 950, 12.3k, 4.20M.
func packetCount(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// byteCount renders a size in decimal units, as disks and rates are
// given: 431 MB, 1.2 GB.
func byteCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.0f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
