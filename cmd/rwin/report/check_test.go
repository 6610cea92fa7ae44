package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/rules"
)

// TestCheckSinks: rwin check's text and JSON outputs render the verdict
// of each capture, in the order given: PASS, FAIL with each violation and
// its flow, ERROR for a capture cut short or never opened (which has no
// verdict), the expectations that matched nothing, and the totals.
func TestCheckSinks(t *testing.T) {
	flow := &analyze.Flow{ID: 3}
	flow.Client.Addr = netip.MustParseAddrPort("10.0.0.1:50000")
	flow.Server.Addr = netip.MustParseAddrPort("10.0.0.2:3389")
	run := &Run{
		Inputs: []Input{
			{Name: "ok.pcap", Flows: 2, Verdict: &rules.Verdict{Checks: []rules.CheckResult{{Name: "findings", Waived: 1}}}},
			{Name: "bad.pcap", Flows: 1, Verdict: &rules.Verdict{Checks: []rules.CheckResult{{Name: "negotiate",
				Violations: []rules.Violation{{Flow: flow, Message: "port 3389 must negotiate scaling"}}}}}},
			{Name: "missing.pcap", Err: errors.New("open missing.pcap: no such file")},
		},
		Check: &CheckRun{Policy: "policy.json", Unmatched: []rules.Expectation{{Index: 1, Captures: "old/*.pcap"}}},
	}
	var text bytes.Buffer
	s := NewCheckText(&text)
	for i := range run.Inputs {
		s.EndInput(i, &run.Inputs[i])
	}
	require.NoError(t, s.Close(run))
	assert.Equal(t, "PASS  ok.pcap  (2 flows, 1 expected)\n"+
		"FAIL  bad.pcap  (1 flow)\n"+
		"  negotiate: flow 3 10.0.0.1:50000 → 10.0.0.2:3389: port 3389 must negotiate scaling\n"+
		"ERROR missing.pcap  open missing.pcap: no such file\n"+
		"note: expect[1] (old/*.pcap) matched none of the captures\n"+
		"check: 3 captures, 1 failed, 1 could not be read, 1 violation (policy policy.json)\n", text.String())

	var js bytes.Buffer
	require.NoError(t, NewCheckJSON(&js).Close(run))
	var doc CheckRecord
	require.NoError(t, json.Unmarshal(js.Bytes(), &doc))
	assert.False(t, doc.OK)
	assert.Equal(t, []int{1, 1, 1}, []int{doc.Failed, doc.Violations, doc.Unread})
	require.Len(t, doc.Captures, 3)
	assert.True(t, doc.Captures[0].OK)
	assert.Equal(t, "port 3389 must negotiate scaling", doc.Captures[1].Checks[0].Violations[0].Message)
	assert.Equal(t, "open missing.pcap: no such file", *doc.Captures[2].Error)
	assert.Empty(t, doc.Captures[2].Checks, "a capture never opened has no checks")
	assert.Equal(t, []UnmatchedRecord{{Index: 1, Captures: "old/*.pcap"}}, doc.Unmatched)

	assert.ErrorIs(t, NewCheckText(failingWriter{}).Close(run), errFull)
}
