package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

// spooled is a capture rwin diff can open twice.
type spooled struct {
	path string // the file to open: the capture itself, or its spool
	note string // what was done, when the capture was a stream
	err  error
}

// spoolStreams returns, for each capture name, a path rwin diff can open
// twice: the name itself for a regular file, else (a FIFO, a shell's
// <(…), a device) a temporary file holding everything read from it; and a
// function that removes those files. diff reads each capture twice, and a
// stream gives its bytes once: the second read found it empty. The
// streams are drained at the same time, so two FIFOs fed in either order
// cannot wait on each other.
func spoolStreams(names []string) ([]spooled, func()) {
	out := make([]spooled, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			out[i].path, out[i].note, out[i].err = spoolIfStream(name)
		})
	}
	wg.Wait()
	return out, func() {
		for i, s := range out {
			if s.path != "" && s.path != names[i] {
				os.Remove(s.path)
			}
		}
	}
}

func spoolIfStream(name string) (path, note string, err error) {
	st, err := os.Stat(name)
	if err != nil || st.Mode().IsRegular() {
		return name, "", err
	}
	if st.IsDir() {
		return "", "", fmt.Errorf("%s: is a directory, not a capture", name)
	}
	in, err := os.Open(name)
	if err != nil {
		return "", "", err
	}
	defer in.Close()
	tmp, err := os.CreateTemp("", "rwin-diff-*.pcap")
	if err != nil {
		return "", "", fmt.Errorf("%s: is %s, read once, and diff reads each capture twice; spooling it failed: %w", name, streamKind(st.Mode()), err)
	}
	n, err := io.Copy(tmp, in)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", "", fmt.Errorf("%s: spooling to %s: %w", name, tmp.Name(), err)
	}
	return tmp.Name(), fmt.Sprintf("%s is %s and diff reads each capture twice: its %s were spooled to %s", name, streamKind(st.Mode()), byteCount(n), tmp.Name()), nil
}

// streamKind names what a non-regular file is, for messages.
func streamKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}
