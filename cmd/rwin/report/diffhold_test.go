package report

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHeldPairsSpillPastTheBudgetAndComeBackInOrder(t *testing.T) {
	tests := []struct {
		name   string
		budget int
	}{
		{"all in memory", 1 << 20},
		{"all on disk", 0},
		{"some of each", 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Pair 0 finishes last (a flow lasting the whole capture): every
			// other pair waits for it.
			h := newHeldPairs(tc.budget)
			defer h.close()
			render := func(n int) []byte { return []byte(fmt.Sprintf("pair %d\n", n)) }
			buf := make([]byte, 0, 64)
			for n := 1; n < 100; n++ {
				buf = append(buf[:0], render(n)...)
				require.NoError(t, h.hold(n, buf))
				buf[0] = 'X' // the caller reuses its buffer
				assert.LessOrEqual(t, h.inMem, tc.budget)
			}
			var out, want bytes.Buffer
			want.Write(render(0))
			out.Write(render(0))
			for n := 1; n < 100; n++ {
				want.Write(render(n))
				ok, err := h.writeTo(&out, n)
				require.NoError(t, err)
				require.True(t, ok, "pair %d was held", n)
			}
			assert.Equal(t, want.String(), out.String())
			ok, err := h.writeTo(&out, 100)
			assert.NoError(t, err)
			assert.False(t, ok, "a pair never held")
			if spill := h.spill; spill != nil {
				name := spill.Name()
				h.close()
				_, err := os.Stat(name)
				assert.True(t, os.IsNotExist(err), "close removes the spill file")
			}
		})
	}
}
