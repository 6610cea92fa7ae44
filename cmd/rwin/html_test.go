package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.Contains(t, page, uplotJS)
	page = strings.Replace(page, uplotJS, "/* uPlot "+strings.TrimSpace(uplotVersion)+" */", 1)
	page = strings.Replace(page, uplotCSS, "/* uPlot */", 1)
	golden(t, "html/rdp-fw-unscaled-window.html", page)
}

// TestHTMLReportStaysBounded: past its row limit the table keeps the
// flows with findings and says how many it left out, and the charts stay
// within their limits, on a capture of thousands of flows.
func TestHTMLReportStaysBounded(t *testing.T) {
	defer func(n int) { htmlMaxRows = n }(htmlMaxRows)
	htmlMaxRows = 50
	capture := manyFlows(t)
	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run([]string{"read", "--format", "html", "--top", "3", capture}, nil, &out, &errOut), errOut.String())
	page := out.String()
	rows := regexp.MustCompile(`<tr id="row-`).FindAllStringIndex(page, -1)
	assert.Len(t, rows, 50, "the table holds htmlMaxRows rows")
	m := regexp.MustCompile(`the (\d+) least notable flows are not listed`).FindStringSubmatch(page)
	require.NotNil(t, m, "the page says how many flows it left out")
	flowsWithFindings := len(regexp.MustCompile(`<tr id="row-[^"]+" class="(warn|error|info)"`).FindAllStringIndex(page, -1))
	assert.Positive(t, flowsWithFindings, "flows with findings are kept first")
	charted := len(regexp.MustCompile(`<article class="flow" id=`).FindAllStringIndex(page, -1))
	assert.Positive(t, charted)
	assert.LessOrEqual(t, charted, htmlFindingFlow+2*3, "at most the flows with findings charted, and --top by bytes and by ceiling")
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
