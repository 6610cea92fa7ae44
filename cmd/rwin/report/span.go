package report

import (
	"fmt"

	"rwin/analyze"
)

// A flow whose packets all lack a timestamp (pcapng Simple Packet Blocks)
// has no start and no duration: the report says unknown (null in JSON),
// never the epoch and 0.

// flowStart is when the flow's first timed packet was captured, or nil.
func flowStart(f *analyze.Flow) *string {
	if !f.Timed {
		return nil
	}
	return ptr(TimeString(f.Start))
}

// flowDuration is the flow's duration in seconds, or nil.
func flowDuration(f *analyze.Flow) *float64 {
	if !f.Timed {
		return nil
	}
	return ptr(float64(f.End-f.Start) / 1e9)
}

// flowSpan says when the flow ran and for how long, for the text detail.
func flowSpan(f *analyze.Flow) string {
	if !f.Timed {
		return "start and duration unknown (no packet had a timestamp)"
	}
	return fmt.Sprintf("from %s, %s", TimeString(f.Start), DurationString(f.Duration()))
}
