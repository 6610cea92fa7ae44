package main

import (
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"rwin/capture"
)

// interrupt lets rwin read end early and still report: on SIGINT or
// SIGTERM every input stops at its next packet, the flows read so far are
// finished and printed with the summary, and the exit code is the
// conventional 128 + the signal's number (130, 143). A second signal ends
// the process at once, as it would without rwin's help.
type interrupt struct {
	sigc chan os.Signal
	got  atomic.Pointer[os.Signal] // the signal that stopped the reading
	done chan struct{}             // closed when got is set
	quit chan struct{}             // closed by release
}

// catchInterrupt starts watching for SIGINT and SIGTERM.
func catchInterrupt() *interrupt {
	i := &interrupt{sigc: make(chan os.Signal, 1), done: make(chan struct{}), quit: make(chan struct{})}
	signal.Notify(i.sigc, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-i.sigc:
			signal.Stop(i.sigc)
			i.got.Store(&sig)
			close(i.done)
		case <-i.quit:
		}
	}()
	return i
}

// release stops watching.
func (i *interrupt) release() {
	signal.Stop(i.sigc)
	close(i.quit)
}

// signal returns the signal that stopped the reading, or nil.
func (i *interrupt) signal() os.Signal {
	if p := i.got.Load(); p != nil {
		return *p
	}
	return nil
}

// sigName names the signal as kill(1) does.
func sigName(sig os.Signal) string {
	if sig == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "SIGINT"
}

// exitCode is the shell's code for a process ended by the signal.
func exitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}

// source makes src end, as if its input had, at the first packet after a
// signal.
func (i *interrupt) source(src capture.Source) capture.Source {
	return &stoppingSource{Source: src, i: i}
}

type stoppingSource struct {
	capture.Source
	i *interrupt
}

func (s *stoppingSource) Next(p *capture.Packet) error {
	if s.i.got.Load() != nil {
		return io.EOF
	}
	return s.Source.Next(p)
}

// reader returns r as a reader that a signal ends even while it waits for
// data — a pipe from tcpdump that has nothing to say — through a pipe
// fed by a goroutine; that goroutine may stay blocked in r until the
// process ends.
func (i *interrupt) reader(r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, r)
		pw.CloseWithError(err)
	}()
	go func() {
		select {
		case <-i.done:
			pw.Close()
		case <-i.quit:
		}
	}()
	return pr
}
