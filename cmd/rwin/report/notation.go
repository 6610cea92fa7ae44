package report

import (
	"bytes"
	"slices"

	"rwin/rules"
)

// Notation of the text report: a reader tells exact from approximate
// values without the schema.

// appendSize appends a byte count with a binary unit, "≈" first where the
// figure is not the exact value: rounded to one decimal, or, with exact
// false, taken from a histogram's buckets.
func appendSize(b []byte, n uint64, exact bool) []byte {
	start := len(b)
	b = rules.AppendBytes(b, n)
	if !exact || bytes.IndexByte(b[start:], '.') >= 0 {
		b = slices.Insert(b, start, []byte("≈")...)
	}
	return b
}

// size is appendSize of an exact count as a string.
func size(n uint64) string { return string(appendSize(nil, n, true)) }

// appendRate appends bits per second with a decimal unit, as link speeds
// are, up to Tbit/s.
func appendRate(b []byte, bps float64) []byte {
	if bps >= 1e12 {
		b = rules.AppendRate(b, bps/1e3) // rules stops at Gbit/s: thousands of them
		return append(b[:len(b)-len("Gbit/s")], "Tbit/s"...)
	}
	return rules.AppendRate(b, bps)
}

// rate is appendRate as a string.
func rate(bps float64) string { return string(appendRate(nil, bps)) }

// maxLineRate is the fastest line rate any NIC runs at (1.6 Tbit/s
// Ethernet, IEEE 802.3dj): a ceiling above it holds no link back.
const maxLineRate = 1.6e12

// ceiling renders a RWIN/RTT or loss ceiling, or says it limits nothing.
func ceiling(bps float64) string {
	if bps > maxLineRate {
		return "none (above any link's rate)"
	}
	return rate(bps)
}
