package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"rwin/analyze"
	"rwin/capture"
	"rwin/rules"
)

func TestDropsWeakenTheirConclusions(t *testing.T) {
	assert.Empty(t, dropsWeaken(capture.LiveStats{Received: 100}))
	for _, st := range []capture.LiveStats{{Received: 100, Dropped: 1}, {Received: 100, IfDropped: 3}} {
		got := strings.Join(dropsWeaken(st), "\n")
		for _, what := range []string{"rtt:", "in-flight:", "inferred-shift:", "retransmissions:", "handshake:"} {
			assert.Contains(t, got, what)
		}
	}
}

func TestIntervalShowsWorstWindowsFirst(t *testing.T) {
	rec := func(id uint64, sev int, medians ...uint64) Flow {
		r := Flow{Facts: &analyze.Flow{ID: id}}
		if sev >= 0 {
			r.Findings = []rules.Finding{{Severity: rules.Severity(sev)}}
		}
		for i, m := range medians {
			*[]*Side{&r.Client, &r.Server}[i] = Side{Window: m, WindowKnown: true}
		}
		return r
	}
	recs := []Flow{
		rec(1, -1),                      // nothing known
		rec(2, -1, 1<<20, 1<<20),        // healthy
		rec(3, -1, 1<<20, 256),          // a 256-byte window
		rec(4, int(rules.Warn), 65535),  // a finding outranks any window
		rec(5, int(rules.Error), 1<<30), // the worst finding first
		rec(6, -1, 8192),
	}
	SortWorstFirst(recs)
	var order []uint64
	for _, r := range recs {
		order = append(order, r.Facts.ID)
	}
	assert.Equal(t, []uint64{5, 4, 3, 6, 2, 1}, order)
}
