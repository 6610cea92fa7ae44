package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/cmd/rwin/report"
	"rwin/fixtures"
)

// TestHTMLGolden compares the report of one lab recording with the
// committed page, the inlined uPlot left out (it is the library's file).
func TestHTMLGolden(t *testing.T) {
	name := filepath.Join("captures", "lab", "rdp-fw-unscaled-window", "server.pcap")
	if _, err := os.Stat(filepath.Join(fixtures.Dir(), name)); err != nil {
		fixtures.SkipUnlessCI(t, "no lab recording %s (run make fixtures)", name)
	}
	t.Chdir(fixtures.Dir())
	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run([]string{"read", "--format", "html", name}, nil, &out, &errOut), errOut.String())
	page := out.String()
	uplotJS, uplotCSS := string(report.Assets.UPlotJS), string(report.Assets.UPlotCSS)
	require.Contains(t, page, uplotJS)
	page = strings.Replace(page, uplotJS, "/* uPlot "+strings.TrimSpace(report.Assets.UPlotVersion)+" */", 1)
	page = strings.Replace(page, uplotCSS, "/* uPlot */", 1)
	golden(t, "html/rdp-fw-unscaled-window.html", page)
}

// TestHTMLReportStaysBounded: past its row limit the table keeps the
// flows with findings and says how many it left out, and the charts stay
// within their limits, on a capture of thousands of flows.
func TestHTMLReportStaysBounded(t *testing.T) {
	defer func(n int) { report.MaxHTMLRows = n }(report.MaxHTMLRows)
	report.MaxHTMLRows = 50
	capture := manyFlows(t)
	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run([]string{"read", "--format", "html", "--top", "3", capture}, nil, &out, &errOut), errOut.String())
	page := out.String()
	rows := regexp.MustCompile(`<tr id="row-`).FindAllStringIndex(page, -1)
	assert.Len(t, rows, 50, "the table holds MaxHTMLRows rows")
	m := regexp.MustCompile(`the (\d+) least notable flows are not listed`).FindStringSubmatch(page)
	require.NotNil(t, m, "the page says how many flows it left out")
	flowsWithFindings := len(regexp.MustCompile(`<tr id="row-[^"]+" class="(warn|error|info)"`).FindAllStringIndex(page, -1))
	assert.Positive(t, flowsWithFindings, "flows with findings are kept first")
	charted := len(regexp.MustCompile(`<article class="flow" id=`).FindAllStringIndex(page, -1))
	assert.Positive(t, charted)
	assert.LessOrEqual(t, charted, report.HTMLFindingFlows+2*3, "at most the flows with findings charted, and --top by bytes and by ceiling")
	assert.NotRegexp(t, `(src|href)="[a-z]+:`, page, "no link or request to the network: the page stands alone")
}

// TestHTMLOutputFileErrors: -o to a file that cannot be created is one
// clear error and a failing exit.
func TestHTMLOutputFileErrors(t *testing.T) {
	capture := filepath.Join(fixtures.Dir(), "captures", "lab", "clean", "server.pcap")
	if _, err := os.Stat(capture); err != nil {
		fixtures.SkipUnlessCI(t, "no lab recording %s", capture)
	}
	var out, errOut bytes.Buffer
	bad := filepath.Join(t.TempDir(), "missing-dir", "report.html")
	code := run([]string{"read", "--format", "html", "-o", bad, capture}, nil, &out, &errOut)
	assert.Equal(t, exitInput, code)
	assert.Contains(t, errOut.String(), bad)
	assert.Empty(t, out.String())
}

// TestHTMLTopMustNotBeNegative: --top counts flows.
func TestHTMLTopMustNotBeNegative(t *testing.T) {
	capture := filepath.Join(fixtures.Dir(), "captures", "lab", "clean", "server.pcap")
	if _, err := os.Stat(capture); err != nil {
		fixtures.SkipUnlessCI(t, "no lab recording %s", capture)
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, exitInput, run([]string{"read", "--format", "html", "--top", "-1", capture}, nil, &out, &errOut))
	assert.Contains(t, errOut.String(), "--top -1")
	assert.Empty(t, out.String())
}

// TestHTMLChartsMarkTheEvidence: on the RDP firewall recording, the
// charts of the server's data mark the retransmissions beyond the client's
// unscaled window and the packets the finding cites, draw the window field
// taken unscaled (scaling is in question) under the scaled window, and
// show the bytes in flight above that field.
func TestHTMLChartsMarkTheEvidence(t *testing.T) {
	capture := filepath.Join(fixtures.Dir(), "captures", "lab", "rdp-fw-unscaled-window", "server.pcap")
	if _, err := os.Stat(capture); err != nil {
		fixtures.SkipUnlessCI(t, "no lab recording %s", capture)
	}
	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run([]string{"read", "--format", "html", capture}, nil, &out, &errOut), errOut.String())
	m := regexp.MustCompile(`(?s)<script id="rwin-data" type="application/json">(.*?)</script>`).FindStringSubmatch(out.String())
	require.NotNil(t, m)
	var data map[string]struct {
		Win, Raw, InFlight, Retrans, Evidence []*float64
		EvText                                []string
	}
	require.NoError(t, json.Unmarshal([]byte(m[1]), &data))
	d, ok := data["f0-1/1"] // the server's data, the client's window
	require.True(t, ok, "the server's data is charted")
	count := func(s []*float64) int {
		n := 0
		for _, v := range s {
			if v != nil {
				n++
			}
		}
		return n
	}
	assert.Positive(t, count(d.Retrans), "retransmissions are marked")
	assert.Positive(t, count(d.Evidence), "evidence packets are marked")
	text := strings.Join(d.EvText, " ")
	assert.Contains(t, text, "#8 ")
	assert.Contains(t, text, "#19 ")
	require.Len(t, d.Raw, len(d.Win), "the window field taken unscaled is drawn")
	var flight, raw float64
	for i := range d.Win {
		if d.Raw[i] != nil && d.Win[i] != nil {
			assert.Less(t, *d.Raw[i], *d.Win[i], "bucket %d: the unscaled field lies under the scaled window", i)
			raw = max(raw, *d.Raw[i])
		}
		if d.InFlight[i] != nil {
			flight = max(flight, *d.InFlight[i])
		}
	}
	assert.Greater(t, flight, raw, "the server had more in flight than the client's window field taken unscaled")
}
