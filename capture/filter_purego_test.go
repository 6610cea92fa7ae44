//go:build !cgo && (linux || darwin) && (amd64 || arm64)

package capture

import (
	"errors"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilterWithoutLibpcapIsOneLineSayingHowToInstallIt(t *testing.T) {
	saved := pcapLibraries[runtime.GOOS]
	t.Cleanup(func() { pcapLibraries[runtime.GOOS] = saved })
	pcapLibraries[runtime.GOOS] = []string{"libpcap-not-here.so.1", "/nonexistent/libpcap.so"}
	err := openPcap()
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrNoPcap), "%v", err)
	msg := err.Error()
	assert.Contains(t, msg, "libpcap was not found (tried libpcap-not-here.so.1, /nonexistent/libpcap.so)")
	assert.Contains(t, msg, "apt-get install libpcap0.8")
	assert.NotContains(t, msg, "\n")
}
