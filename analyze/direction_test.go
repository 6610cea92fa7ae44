package analyze

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDirection(t *testing.T) {
	var f Flow
	tests := []struct {
		d       Direction
		name    string
		reverse Direction
		sender  *Endpoint
	}{
		{ClientToServer, "client-to-server", ServerToClient, &f.Client},
		{ServerToClient, "server-to-client", ClientToServer, &f.Server},
		{BothDirections, "both", BothDirections, &f.Client},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.name, tc.d.String())
			assert.Equal(t, tc.reverse, tc.d.Reverse())
			assert.Same(t, tc.sender, f.Sender(tc.d))
		})
	}
	assert.Equal(t, [2]Direction{0, 1}, Directions, "the two ways index per-direction arrays")
}

func TestCaptureOther(t *testing.T) {
	for c, want := range map[Capture]Capture{CaptureA: CaptureB, CaptureB: CaptureA, CaptureUnknown: CaptureUnknown} {
		assert.Equal(t, want, c.Other(), "%d", c)
	}
	assert.Equal(t, [2]Capture{0, 1}, Captures, "the two captures index per-capture arrays")
}
