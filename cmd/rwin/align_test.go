package main

import (
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLongTableLayoutNeverHangs: laying out a 120,000-row table, 200
// times on two CPUs, always finishes. (A layout spread over goroutines
// sharing a small pool of buffers once hung in a few runs of ten.)
func TestLongTableLayoutNeverHangs(t *testing.T) {
	rows := tableRows(t, newPalette(false), 120_000)
	head := tableHead(newPalette(false))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for run := range 200 {
		done := make(chan struct{})
		go func() {
			writeAligned(io.Discard, head, rows)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			require.FailNow(t, "layout hung", "run %d of 200", run+1)
		}
	}
}
