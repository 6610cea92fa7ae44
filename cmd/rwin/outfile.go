package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// errOutputExists is why createOutput refused a file that is already
// there: rwin never replaces one unless told to.
var errOutputExists = errors.New("already exists; rwin does not overwrite a file")

// createOutput opens a file rwin writes (a JUnit report, a pcap of live
// traffic) for writing. rwin often runs as root or with capture
// privileges, so the path is never trusted:
//
//   - a new file is created with O_CREAT|O_EXCL|O_NOFOLLOW, so a link
//     planted at the path, even one to nowhere yet, is never followed;
//   - an existing regular file is refused unless overwrite is set, and
//     then it is truncated only once opened without following a link and
//     checked to be the very file examined;
//   - a symbolic link is refused, whatever overwrite says;
//   - a stream — a FIFO or socket, /dev/null or a terminal, whether named
//     directly or through /dev/stdout, /dev/fd/N or a shell's >(…) — is
//     written as it is: there is nothing in it to clobber, and it is the
//     ordinary way to send a report down a pipe.
func createOutput(path string, perm fs.FileMode, overwrite bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, perm)
	if err == nil || !errors.Is(err, fs.ErrExist) {
		return f, err
	}
	if isStream(path) {
		return os.OpenFile(path, os.O_WRONLY, 0)
	}
	st, err := os.Lstat(path)
	switch {
	case err != nil:
		return nil, err
	case st.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("%s: is a symbolic link; rwin does not write through one", path)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s: exists and is not a regular file", path)
	case !overwrite:
		return nil, fmt.Errorf("%s: %w", path, errOutputExists)
	}
	f, err = os.OpenFile(path, os.O_WRONLY|oNoFollow, perm)
	if err != nil {
		return nil, err
	}
	if now, err := f.Stat(); err != nil || !os.SameFile(st, now) {
		f.Close()
		return nil, fmt.Errorf("%s: replaced while rwin was opening it; not written", path)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// isStream tells whether path leads to a FIFO, a socket, /dev/null or a
// terminal: outputs with nothing to overwrite.
func isStream(path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false
	}
	switch m := st.Mode(); {
	case m&(fs.ModeNamedPipe|fs.ModeSocket) != 0:
		return true
	case m&fs.ModeCharDevice != 0:
		real, err := filepath.EvalSymlinks(path)
		return err == nil && (real == os.DevNull || strings.HasPrefix(real, "/dev/pts/") || strings.HasPrefix(real, "/dev/tty"))
	}
	return false
}

// openOutput opens -o's file as createOutput does (a new file, or with
// force an existing regular one; never through a symbolic link), or
// returns stdout when none is given. Its close function may be called more than once; only the first closes.
func openOutput(path string, force bool, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "" {
		return stdout, func() error { return nil }, nil
	}
	f, err := createOutput(path, 0o644, force)
	if err != nil {
		return nil, nil, err
	}
	var once sync.Once
	var closeErr error
	return f, func() error {
		once.Do(func() { closeErr = f.Close() })
		return closeErr
	}, nil
}
