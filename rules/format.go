package rules

import (
	"strconv"
	"time"
)

// The renderings below append to a buffer: the text report renders a
// row for every flow, and fmt's reflection and per-call allocations were
// most of a row's cost (BenchmarkFlowRow in cmd/rwin). Bytes, Duration
// and Rate are the same text as a string.

// Bytes renders a byte count with a binary unit: "64 KiB", "1.5 MiB".
func Bytes(n uint64) string { return string(AppendBytes(make([]byte, 0, 16), n)) }

// AppendBytes appends Bytes(n) to b.
func AppendBytes(b []byte, n uint64) []byte {
	const unit = 1024
	if n < unit {
		return append(strconv.AppendUint(b, n, 10), " B"...)
	}
	v, u := float64(n), 0
	// Move up a unit also when rounding would print "1024.0".
	for v >= unit-0.05 && u < 4 {
		v /= unit
		u++
	}
	suffix := [...]string{"B", "KiB", "MiB", "GiB", "TiB"}[u]
	if v == float64(int64(v)) {
		b = strconv.AppendInt(b, int64(v), 10)
	} else {
		b = strconv.AppendFloat(b, v, 'f', 1, 64)
	}
	return append(append(b, ' '), suffix...)
}

// Duration renders a duration for humans: "41.2 ms", "3.1 s".
func Duration(d time.Duration) string { return string(AppendDuration(make([]byte, 0, 16), d)) }

// AppendDuration appends Duration(d) to b.
func AppendDuration(b []byte, d time.Duration) []byte {
	switch {
	case d < time.Millisecond:
		return append(strconv.AppendInt(b, d.Microseconds(), 10), " µs"...)
	case d < time.Second:
		return append(strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 1, 64), " ms"...)
	}
	return append(strconv.AppendFloat(b, d.Seconds(), 'f', 1, 64), " s"...)
}

// Rate renders bits per second with a decimal unit, as link speeds are:
// "12.8 Mbit/s".
func Rate(bps float64) string { return string(AppendRate(make([]byte, 0, 16), bps)) }

// AppendRate appends Rate(bps) to b.
func AppendRate(b []byte, bps float64) []byte {
	units := [...]string{"bit/s", "kbit/s", "Mbit/s", "Gbit/s"}
	u := 0
	for bps >= 1000 && u < len(units)-1 {
		bps /= 1000
		u++
	}
	prec := 1
	if bps >= 100 || u == 0 {
		prec = 0
	}
	return append(append(strconv.AppendFloat(b, bps, 'f', prec, 64), ' '), units[u]...)
}
