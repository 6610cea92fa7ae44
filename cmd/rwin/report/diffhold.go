package report

import (
	"fmt"
	"io"
	"os"
)

// diffHoldBudget is how many bytes of rendered pairs a diff keeps in
// memory while they wait for an earlier pair; the rest wait in a
// temporary file.
const diffHoldBudget = 8 << 20

// heldPairs is the reorder buffer of rwin diff's output. Pairs finish
// when both their flows have, and are written in the order of A's flows:
// one flow that lasts the whole capture (the first, often) holds back the
// rendering of every pair that finishes before it, 55 MB of text on the
// benchmark pair. Up to the budget they wait in memory, beyond it in a
// temporary file, so memory stays bounded whatever the capture's length.
type heldPairs struct {
	budget int
	mem    map[int][]byte
	inMem  int // bytes in mem
	// disk locates the pairs that wait in spill.
	disk  map[int]spilled
	spill *os.File
	end   int64 // spill's size
	buf   []byte
}

// spilled is where a rendered pair waits in the spill file.
type spilled struct{ off, n int64 }

func newHeldPairs(budget int) *heldPairs {
	return &heldPairs{budget: budget, mem: map[int][]byte{}, disk: map[int]spilled{}}
}

// hold keeps pair n's rendering b (which the caller reuses).
func (h *heldPairs) hold(n int, b []byte) error {
	if h.inMem+len(b) <= h.budget {
		h.mem[n] = append([]byte(nil), b...)
		h.inMem += len(b)
		return nil
	}
	if h.spill == nil {
		f, err := os.CreateTemp("", "rwin-diff-held-*")
		if err != nil {
			return fmt.Errorf("holding the diff's output in a temporary file: %w", err)
		}
		h.spill = f
	}
	if _, err := h.spill.WriteAt(b, h.end); err != nil {
		return fmt.Errorf("holding the diff's output in %s: %w", h.spill.Name(), err)
	}
	h.disk[n] = spilled{h.end, int64(len(b))}
	h.end += int64(len(b))
	return nil
}

// writeTo writes pair n's rendering to w if it is held, reporting whether
// it was.
func (h *heldPairs) writeTo(w io.Writer, n int) (bool, error) {
	if b, ok := h.mem[n]; ok {
		delete(h.mem, n)
		h.inMem -= len(b)
		_, err := w.Write(b)
		return true, err
	}
	s, ok := h.disk[n]
	if !ok {
		return false, nil
	}
	delete(h.disk, n)
	if int64(cap(h.buf)) < s.n {
		h.buf = make([]byte, s.n)
	}
	b := h.buf[:s.n]
	if _, err := h.spill.ReadAt(b, s.off); err != nil {
		return true, fmt.Errorf("reading the diff's held output back from %s: %w", h.spill.Name(), err)
	}
	_, err := w.Write(b)
	if len(h.disk) == 0 {
		// Everything spilled is out: start the file over.
		h.end = 0
		err = firstErr(err, h.spill.Truncate(0))
	}
	return true, err
}

// close removes the spill file.
func (h *heldPairs) close() {
	if h.spill != nil {
		h.spill.Close()
		os.Remove(h.spill.Name())
		h.spill = nil
	}
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
