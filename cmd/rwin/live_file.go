package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// logFile is rwin live's -o file: the stream of flow records that a log
// shipper tails and logrotate rotates. After a rotation renames it, a
// SIGHUP makes rwin reopen the name, so that the next record lands in a
// new file and nothing is written to the renamed one after it.
//
// It is opened for appending, not with the refuse-if-it-exists rule of
// the files rwin writes once (-w, --junit): a sensor restarted by systemd,
// or reopening after logrotate's copytruncate, must go on adding to the
// same log rather than fail or clobber it, and O_APPEND keeps each record
// whole at the end even if another process appends too. O_NOFOLLOW still
// refuses a symbolic link planted at the name (rwin may run with capture
// privileges in a directory others can write), and the file is created
// readable by its owner and group only: the records name hosts and ports.
type logFile struct {
	path string
	f    *os.File
}

// openLogFile opens path for appending, creating it if needed.
func openLogFile(path string) (*logFile, error) {
	l := &logFile{path: path}
	f, err := l.open()
	if err != nil {
		return nil, err
	}
	l.f = f
	return l, nil
}

func (l *logFile) open() (*os.File, error) {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|oNoFollow, 0o640)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("live: -o %s: is a symbolic link; name the file itself", l.path)
	}
	if err != nil {
		return nil, fmt.Errorf("live: -o: %w", err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() && st.Mode()&os.ModeNamedPipe == 0 {
		f.Close()
		return nil, fmt.Errorf("live: -o %s: not a regular file or FIFO", l.path)
	}
	return f, nil
}

// Write implements io.Writer.
func (l *logFile) Write(p []byte) (int, error) { return l.f.Write(p) }

// reopen opens the name anew, then closes the old file: if the name cannot
// be opened, writing goes on to the old one and the error says why.
func (l *logFile) reopen() error {
	f, err := l.open()
	if err != nil {
		return err
	}
	old := l.f
	l.f = f
	return old.Close()
}

// Close closes the file.
func (l *logFile) Close() error { return l.f.Close() }
