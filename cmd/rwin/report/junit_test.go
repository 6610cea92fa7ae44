package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/rules"
)

func TestJUnitSink(t *testing.T) {
	flow := &analyze.Flow{ID: 3}
	flow.Client.Addr = netip.MustParseAddrPort("10.0.0.1:50000")
	flow.Server.Addr = netip.MustParseAddrPort("10.0.0.2:3389")
	tests := []struct {
		name                     string
		in                       Input
		cases, failures, errored int
		want                     []string // in the document
	}{
		{name: "a passing capture is one case per check",
			in:    Input{Name: "ok.pcap", Verdict: &rules.Verdict{Checks: []rules.CheckResult{{Name: "findings"}, {Name: "min-rwin"}}}},
			cases: 2, want: []string{`<testcase name="findings" classname="ok.pcap"></testcase>`}},
		{name: "a violated check fails with each violation and its flow",
			in: Input{Name: "bad.pcap", Verdict: &rules.Verdict{Checks: []rules.CheckResult{{Name: "negotiate",
				Violations: []rules.Violation{{Flow: flow, Message: "port 3389 must negotiate scaling"}, {Message: "again"}}}}}},
			cases: 1, failures: 1,
			want: []string{`<failure message="2 violations">flow 3 10.0.0.1:50000 → 10.0.0.2:3389: port 3389 must negotiate scaling&#xA;again&#xA;</failure>`}},
		{name: "a capture cut short is an error case beside its checks",
			in:    Input{Name: "cut.pcap", Err: errors.New("cut.pcap: truncated\nat 24"), Verdict: &rules.Verdict{Checks: []rules.CheckResult{{Name: "findings"}}}},
			cases: 2, errored: 1, want: []string{`<testcase name="read" classname="cut.pcap">`, `<error message="cut.pcap: truncated at 24"></error>`}},
		{name: "a capture that could not be opened has no verdict but its error",
			in:    Input{Name: "missing.pcap", Err: errors.New("open missing.pcap: no such file")},
			cases: 1, errored: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			s := NewJUnit(&out)
			s.EndInput(0, &tt.in)
			require.NoError(t, s.Close(&Run{Inputs: []Input{tt.in}}))
			assert.True(t, bytes.HasPrefix(out.Bytes(), []byte(xml.Header)), "an XML declaration first")
			var doc JUnitSuites
			require.NoError(t, xml.Unmarshal(out.Bytes(), &doc))
			require.Len(t, doc.Suites, 1)
			assert.Equal(t, tt.in.Name, doc.Suites[0].Name)
			assert.Equal(t, []int{tt.cases, tt.failures, tt.errored}, []int{doc.Tests, doc.Failures, doc.Errors})
			for _, w := range tt.want {
				assert.Contains(t, out.String(), w)
			}
		})
	}
}

// TestJUnitSinkReportsTheWriteError: Close returns what the writer said.
func TestJUnitSinkReportsTheWriteError(t *testing.T) {
	err := NewJUnit(failingWriter{}).Close(&Run{Inputs: []Input{{Name: "a.pcap"}}})
	assert.ErrorIs(t, err, errFull)
}

var errFull = errors.New("no space left on device")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errFull }
