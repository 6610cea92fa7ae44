package main

import (
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/cmd/rwin/report"
	"rwin/fixtures"
	"rwin/rules"
)

// metricsRecord is a finished flow as the metrics sink sees it.
func metricsRecord(service string, scaling analyze.Tri, found ...rules.Finding) *report.Flow {
	return &report.Flow{Facts: &analyze.Flow{Service: service, Negotiated: analyze.Negotiation{Scaling: scaling}}, Findings: found}
}

func finding(id string, sev rules.Severity) rules.Finding {
	return rules.Finding{ID: id, Severity: sev}
}

func TestNegotiationOutcome(t *testing.T) {
	for _, tc := range []struct {
		name    string
		scaling analyze.Tri
		found   []rules.Finding
		want    string
	}{
		{"both sides carried window scale", analyze.Yes, nil, outcomeScaled},
		{"scaled handshake, zero window is no outcome", analyze.Yes, []rules.Finding{finding("zero-window", rules.Warn)}, outcomeScaled},
		{"scaled as captured, option removed beyond the capture point", analyze.Yes,
			[]rules.Finding{finding("wscale-stripped", rules.Error)}, outcomeStripped},
		{"tcpoptstrip nops in the syn", analyze.No, []rules.Finding{finding("wscale-stripped", rules.Warn)}, outcomeStripped},
		{"server declined next to the capture point (info)", analyze.No,
			[]rules.Finding{finding("wscale-stripped", rules.Info)}, outcomeDeclined},
		{"client never offered it", analyze.No, nil, outcomeDeclined},
		{"handshake not captured", analyze.Unknown, []rules.Finding{finding("scale-unknown", rules.Info)}, outcomeUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, negotiationOutcome(metricsRecord("", tc.scaling, tc.found...)))
		})
	}
}

func TestMetricsSinkCountsFlowsWithBoundedLabels(t *testing.T) {
	m := newMetricsSink()
	stripped := metricsRecord("rdp", analyze.No, finding("wscale-stripped", rules.Warn), finding("window-limited", rules.Warn))
	stripped.Server = report.Side{Basis: analyze.BasisNegotiated, Window: 64240, WindowKnown: true}
	stripped.Client = report.Side{Basis: analyze.BasisNegotiated, Window: 65160, WindowKnown: true, Ceiling: 64240 * 8 / 0.02, CeilingKnown: true}
	stripped.Facts.ClientRTT, stripped.Facts.ServerRTT = 5e6, 15e6
	m.flow(stripped)
	// A port without a name, a window known only as a lower bound, no
	// RTT: counted, but no window, ceiling or RTT observed.
	inferred := metricsRecord("", analyze.Unknown)
	inferred.Server = report.Side{Basis: analyze.BasisInferred, Window: 1 << 20, WindowKnown: true}
	m.flow(inferred)

	assert.Equal(t, 1.0, testutil.ToFloat64(m.flows.WithLabelValues("rdp", outcomeStripped)))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.flows.WithLabelValues(otherService, outcomeUnknown)))
	assert.Equal(t, 2, testutil.CollectAndCount(m.flows))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.findings.WithLabelValues("wscale-stripped", "warn", "rdp")))
	assert.Equal(t, 2, testutil.CollectAndCount(m.findings))
	assert.Equal(t, 2, testutil.CollectAndCount(m.window), "both directions of the stripped flow, not the inferred window")
	assert.Equal(t, 1, testutil.CollectAndCount(m.ceiling), "the client's ceiling: the server's window over the RTT")
	assert.Equal(t, 1, testutil.CollectAndCount(m.rtt))
	h := histogramOf(t, m, "rwin_receive_window_bytes", "rdp", toServer)
	assert.Equal(t, uint64(1), h.GetSampleCount())
	assert.Equal(t, 64240.0, h.GetSampleSum(), "the server's window: it limits what the client sends")
	assert.Equal(t, map[float64]uint64{32768: 0, 65535: 1, 131072: 1}, bucketCounts(h, 32768, 65535, 131072))
	h = histogramOf(t, m, "rwin_receive_window_bytes", "rdp", toClient)
	assert.Equal(t, 65160.0, h.GetSampleSum(), "the client's window")
	h = histogramOf(t, m, "rwin_window_ceiling_bytes_per_second", "rdp", toServer)
	assert.InDelta(t, 64240/0.02, h.GetSampleSum(), 1e-6, "bit/s in the record, bytes per second in the metric")

	m.capture.set(captureCounts{packets: 10, live: 3, evicted: 1, statsOK: true, received: 12, dropped: 2})
	problems, err := testutil.GatherAndLint(m.reg)
	require.NoError(t, err)
	assert.Empty(t, problems, "the naming conventions promtool checks")
	assert.Equal(t, 0, testutil.CollectAndCount(newCaptureCollector(), "rwin_kernel_dropped_packets_total"),
		"libpcap's counters are absent, not 0, until read")
	assert.Equal(t, 1, testutil.CollectAndCount(m.capture, "rwin_kernel_dropped_packets_total"))
}

// histogramOf gathers the histogram name of service and direction.
func histogramOf(t *testing.T, m *metricsSink, name, service, direction string) *dto.Histogram {
	t.Helper()
	families, err := m.reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, x := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range x.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["service"] == service && labels["direction"] == direction {
				return x.GetHistogram()
			}
		}
	}
	t.Fatalf("no %s{service=%q,direction=%q}", name, service, direction)
	return nil
}

// bucketCounts reads the cumulative counts of the buckets with these
// upper bounds.
func bucketCounts(h *dto.Histogram, bounds ...float64) map[float64]uint64 {
	counts := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		for _, want := range bounds {
			if b.GetUpperBound() == want {
				counts[want] = b.GetCumulativeCount()
			}
		}
	}
	return counts
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestMetricsServerServesOnlyMetricsAndHealth(t *testing.T) {
	s, err := listenMetrics("127.0.0.1:0", newMetricsSink())
	require.NoError(t, err)
	base := "http://" + s.Addr().String()
	code, body := httpGet(t, base+"/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "rwin_live_flows 0\n")
	assert.Contains(t, body, "go_goroutines ")
	assert.Contains(t, body, "process_open_fds ")
	code, body = httpGet(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)
	for _, path := range []string{"/", "/debug/pprof/", "/metrics/x"} {
		code, _ = httpGet(t, base+path)
		assert.Equal(t, http.StatusNotFound, code, path)
	}
	resp, err := http.Post(base+"/metrics", "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	for name, d := range map[string]time.Duration{"read header": s.srv.ReadHeaderTimeout, "read": s.srv.ReadTimeout,
		"write": s.srv.WriteTimeout, "idle": s.srv.IdleTimeout} {
		assert.Positive(t, d, "%s timeout: a stalled client must not hold a connection", name)
	}
	require.NoError(t, s.close())
	_, err = net.DialTimeout("tcp", s.Addr().String(), time.Second)
	assert.Error(t, err, "closed")
}

func TestMetricsAddressTakenFailsTheStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, err = listenMetrics(ln.Addr().String(), newMetricsSink())
	assert.ErrorContains(t, err, "live: --metrics: listen tcp "+ln.Addr().String()+": bind: address already in use")
}

// TestLiveMetricsAnswerWhileCapturing scrapes rwin live --metrics on the
// loopback interface while it captures a connection in progress.
func TestLiveMetricsAnswerWhileCapturing(t *testing.T) {
	fixtures.RequireRoot(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, stderr, code := startLiveInProcess(t, "-i", "lo", "--metrics", "127.0.0.1:0", "--duration", "3s",
		"tcp", "port", strconv.Itoa(port))
	m := regexp.MustCompile(`serving metrics on (http://\S+/metrics)`).FindStringSubmatch(stderr.String())
	require.NotNil(t, m, stderr.String())
	c, err := net.Dial("tcp4", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	deadline := time.Now().Add(2500 * time.Millisecond)
	for {
		status, body := httpGet(t, m[1])
		require.Equal(t, http.StatusOK, status)
		if strings.Contains(body, "rwin_live_flows 1\n") {
			break
		}
		require.True(t, time.Now().Before(deadline), "the connection in progress never showed: %s", body)
		time.Sleep(100 * time.Millisecond)
	}
	assert.Equal(t, exitOK, waitExit(t, code), stderr.String())
}
