package report

import (
	"io"
	"testing"
)

// BenchmarkSinks hands the fixture flows to each sink, as the reader does.
func BenchmarkSinks(b *testing.B) {
	flows := fixtureFlows(b)
	for _, c := range []struct {
		name string
		new  func() Sink
	}{
		{"ndjson", func() Sink { return NewNDJSON(io.Discard) }},
		{"json", func() Sink { return NewJSON(io.Discard) }},
		{"text", func() Sink { return NewText(io.Discard, TextOptions{Palette: NewPalette(false), Top: 5}) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s := c.new()
				for i := range flows {
					flows[i].Facts.ID = uint64(i + 1)
					s.Flow(0, &flows[i])
				}
				s.EndInput(0, &Input{})
				s.Close(&Run{Inputs: []Input{{Flows: len(flows)}}})
			}
		})
	}
}
