package capture

import (
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
)

// merged reads several sources as one capture, in timestamp order, the
// way mergecap merges the files of a ring buffer: a flow that spans files
// keeps its handshake.
type merged struct {
	name  string
	srcs  []Source
	heads []Packet // the next packet of each source, valid while live
	live  []bool
	last  int // the source the previous packet came from; -1 before the first
	count uint64
	err   error // the first error that ended a source early
}

// Merge returns a Source that yields the packets of srcs in timestamp
// order (on equal times, the earlier source first), numbered from 1 across
// the set, named name. Each source is assumed to be in time order itself,
// as a capture file is. A source that fails (a ring buffer's last file is
// often cut short while being written) ends alone: the others are read to
// their end, and Next then returns the first such error instead of io.EOF,
// so the results still cover every packet read. Closing the merge closes
// every source.
//
// A packet's Data is valid until the next call to Next, as for any
// Source: only the source it came from is read again then.
func Merge(name string, srcs ...Source) Source {
	return &merged{name: name, srcs: srcs, heads: make([]Packet, len(srcs)), live: make([]bool, len(srcs)), last: -1}
}

// Next fills p with the earliest of the sources' next packets.
func (m *merged) Next(p *Packet) error {
	if m.last < 0 {
		for i := range m.srcs {
			m.fill(i)
		}
	} else {
		m.fill(m.last)
	}
	best := -1
	for i := range m.heads {
		if m.live[i] && (best < 0 || m.heads[i].Time < m.heads[best].Time) {
			best = i
		}
	}
	m.last = best
	if best < 0 {
		m.last = len(m.srcs) // nothing left to refill
		if m.err != nil {
			return m.err
		}
		return io.EOF
	}
	*p = m.heads[best]
	m.count++
	p.Index = m.count
	return nil
}

// fill reads source i's next packet into its head.
func (m *merged) fill(i int) {
	if i >= len(m.srcs) {
		return
	}
	err := m.srcs[i].Next(&m.heads[i])
	m.live[i] = err == nil
	if err != nil && err != io.EOF && m.err == nil {
		m.err = err
	}
}

// Name says what the merged set is called.
func (m *merged) Name() string { return m.name }

// Close closes every source and returns their errors joined.
func (m *merged) Close() error {
	var errs []error
	for _, s := range m.srcs {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// Names of the files of a ring buffer or a split capture:
//   - dumpcap -b (Wireshark's capture engine): prefix_NNNNN_YYYYMMDDhhmmss.ext,
//     numbered from 00001 (editcap -c splits the same way from 00000);
//   - tcpdump -C: the name given, then name1, name2, …; with -W the
//     numbers are zero-padded from 0 (name00, name01, …).
var (
	dumpcapRing = regexp.MustCompile(`^(.*)_(\d{5})_\d{14}\.[A-Za-z0-9]+(\.gz|\.zst|\.lz4)?$`)
	tcpdumpRing = regexp.MustCompile(`^(.*\.(?:pcap|pcapng|cap|dmp))(\d+)$`)
)

// RingFile reports whether name is a file of a ring buffer or split
// capture (dumpcap -b, tcpdump -C/-W, editcap -c): set names the series
// (its directory and prefix), n is the file's number, and later says the
// name alone proves it is not the series' first file, so flows in it may
// have begun in the file before. A file numbered 00001 by dumpcap is its
// first, but the second of an editcap split: set and n let the caller
// compare it with the other files given.
func RingFile(name string) (set string, n int, later, ok bool) {
	dir, base := filepath.Split(name)
	if m := dumpcapRing.FindStringSubmatch(base); m != nil {
		n, _ = strconv.Atoi(m[2])
		return dir + m[1] + "_#", n, n > 1, true
	}
	if m := tcpdumpRing.FindStringSubmatch(base); m != nil {
		n, _ = strconv.Atoi(m[2])
		return dir + m[1] + "#", n, n >= 1, true
	}
	return "", 0, false, false
}
