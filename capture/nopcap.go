//go:build !cgo && !windows

package capture

import (
	"errors"
	"fmt"
)

// errNoPcap says, in one line, why a build without cgo has no capture
// library on Linux and macOS and what to do instead. Go reaches libpcap
// there only through cgo (on Windows gopacket loads wpcap.dll itself).
var errNoPcap = fmt.Errorf("%w: this rwin was built without cgo and cannot load libpcap; "+
	"build it with libpcap (Debian: apt-get install libpcap-dev; macOS: xcode-select --install; then CGO_ENABLED=1 go build ./cmd/rwin), "+
	"or filter a file with tcpdump: tcpdump -r FILE -w - EXPR | rwin read -", ErrNoPcap)

// Live is the live source of builds with a capture library; without one
// OpenLive fails, so no Live exists.
type Live struct{}

// OpenLive fails with ErrNoPcap: this build has no libpcap.
func OpenLive(string, LiveConfig) (*Live, error) { return nil, fmt.Errorf("live: %w", errNoPcap) }

// Interfaces fails with ErrNoPcap: this build has no libpcap.
func Interfaces() ([]Interface, error) { return nil, fmt.Errorf("live: %w", errNoPcap) }

var errNoLive = errors.New("live: no capture library")

// Next fails; never reached without a capture library.
func (l *Live) Next(*Packet) error { return errNoLive }

// Stop does nothing; never reached without a capture library.
func (l *Live) Stop() {}

// Name is empty; never reached without a capture library.
func (l *Live) Name() string { return "" }

// Link is 0; never reached without a capture library.
func (l *Live) Link() LinkType { return 0 }

// Snaplen is 0; never reached without a capture library.
func (l *Live) Snaplen() int { return 0 }

// Stats fails; never reached without a capture library.
func (l *Live) Stats() (LiveStats, error) { return LiveStats{}, errNoLive }

// Close does nothing.
func (l *Live) Close() error { return nil }
