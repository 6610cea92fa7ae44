package rules

import (
	"fmt"
	"time"
)

// Bytes renders a byte count with a binary unit: "64 KiB", "1.5 MiB".
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n), 0
	// Move up a unit also when rounding would print "1024.0".
	for v >= unit-0.05 && u < 4 {
		v /= unit
		u++
	}
	suffix := [...]string{"B", "KiB", "MiB", "GiB", "TiB"}[u]
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), suffix)
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

// Duration renders nanoseconds for humans: "41.2 ms", "3.1 s".
func Duration(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// Rate renders bits per second with a decimal unit, as link speeds are:
// "12.8 Mbit/s".
func Rate(bps float64) string {
	units := []string{"bit/s", "kbit/s", "Mbit/s", "Gbit/s"}
	u := 0
	for bps >= 1000 && u < len(units)-1 {
		bps /= 1000
		u++
	}
	if bps >= 100 || u == 0 {
		return fmt.Sprintf("%.0f %s", bps, units[u])
	}
	return fmt.Sprintf("%.1f %s", bps, units[u])
}
