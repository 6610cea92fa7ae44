//go:build !cgo && !windows && !((linux || darwin) && (amd64 || arm64))

package capture

import "fmt"

// Filter is the BPF filter of builds with a capture library; without one
// NewFilter fails, so no Filter exists.
type Filter struct{}

// NewFilter fails with ErrNoPcap: this build cannot reach libpcap.
func NewFilter(expr string, _ LinkType, _ int) (*Filter, error) {
	return nil, fmt.Errorf("filter %q: %w", expr, errNoPcap)
}

// String is the expression; never reached without a capture library.
func (f *Filter) String() string { return "" }

// Err is nil; never reached without a capture library.
func (f *Filter) Err() error { return nil }

// Match is false; never reached without a capture library.
func (f *Filter) Match(*Packet) bool { return false }
