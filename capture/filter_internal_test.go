//go:build cgo || windows || ((linux || darwin) && (amd64 || arm64))

package capture

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilterCompilesPerLinkTypeOnFirstUse(t *testing.T) {
	requirePcap(t)
	f, err := NewFilter("tcp port 445", LinkEthernet, 65535)
	require.NoError(t, err)
	eth := packetOf(LinkEthernet, framed(LinkEthernet, ipTCP(445)))
	raw := packetOf(LinkRaw, ipTCP(445))
	sll2 := packetOf(LinkLinuxSLL2, framed(LinkLinuxSLL2, ipTCP(80)))
	for range 3 { // interleaved as in a pcapng file with several interfaces
		assert.True(t, f.Match(eth))
		assert.True(t, f.Match(raw))
		assert.False(t, f.Match(sll2))
	}
	assert.Len(t, f.progs, 3, "one program per link type")
	assert.NoError(t, f.Err())
}
