//go:build cgo && !windows

package capture

// loadPcap has nothing to do: cgo linked libpcap into rwin.
func loadPcap() error { return nil }
