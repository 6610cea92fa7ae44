package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"rwin/analyze"
	"rwin/cmd/rwin/report"
	"rwin/rules"
)

// The Prometheus sink of rwin live: one more consumer of the finished flow
// records, beside the text and NDJSON renderers, plus the capture's
// counters. Labels are deliberately few and bounded — the service name of
// the server port (a fixed table, "other" for the rest), the negotiation
// outcome, the rule ID and severity, the data direction — so that a sensor
// on a busy link cannot flood a Prometheus server with series: never an
// address or a port.

// Negotiation outcomes, the outcome label of rwin_flows_total.
const (
	outcomeScaled   = "scaled"   // both SYN and SYN-ACK carried window scale (RFC 7323 §2.2)
	outcomeDeclined = "declined" // one side's half of the handshake lacked it, and nothing says a device removed it
	outcomeStripped = "stripped" // a device removed it: wscale-stripped at warn or error
	outcomeUnknown  = "unknown"  // the handshake was not (wholly) captured
)

// otherService labels flows to a port outside analyze.ServiceName's table.
const otherService = "other"

// Data directions, the direction label: the window of a direction is the
// one its receiver advertised, its ceiling that window over the RTT.
const (
	toServer = "client_to_server"
	toClient = "server_to_client"
)

// windowBuckets bound the effective receive window histogram in bytes:
// powers of two, with 65535 — the largest window without scaling — as its
// own bound, so that "at most 64 KiB" is one bucket to query.
var windowBuckets = []float64{4096, 8192, 16384, 32768, 65535, 131072, 262144, 524288,
	1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20, 64 << 20, 256 << 20, 1 << 30}

// ceilingBuckets bound the RWIN/RTT ceiling in bytes per second: 1, 2.5
// and 5 per decade from 10 kB/s (a 64 KiB window over a 6 s RTT) to
// 10 GB/s.
var ceilingBuckets = []float64{1e4, 2.5e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6, 5e6, 1e7, 2.5e7, 5e7,
	1e8, 2.5e8, 5e8, 1e9, 2.5e9, 5e9, 1e10}

// rttBuckets bound the handshake RTT in seconds, from a LAN's 100 µs to a
// satellite hop with retries.
var rttBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25, 0.5, 1, 2.5, 5, 10}

// metricsSink turns finished flows and the capture's counters into
// Prometheus metrics. flow is called by the capture loop; the HTTP
// server's scrapes read concurrently, which the client library's metric
// types and captureCollector's lock make safe.
type metricsSink struct {
	reg      *prometheus.Registry
	flows    *prometheus.CounterVec
	findings *prometheus.CounterVec
	window   *prometheus.HistogramVec
	ceiling  *prometheus.HistogramVec
	rtt      *prometheus.HistogramVec
	capture  *captureCollector
}

func newMetricsSink() *metricsSink {
	m := &metricsSink{
		reg: prometheus.NewRegistry(),
		flows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rwin_flows_total",
			Help: "TCP flows reported, by server port's service and window-scale negotiation outcome (scaled, declined, stripped, unknown).",
		}, []string{"service", "outcome"}),
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rwin_findings_total",
			Help: "Findings on reported flows, by rule ID, severity and server port's service.",
		}, []string{"rule", "severity", "service"}),
		window: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rwin_receive_window_bytes",
			Help:    "Median effective receive window of each reported flow whose scale is known, advertised by the receiver of the direction.",
			Buckets: windowBuckets,
		}, []string{"service", "direction"}),
		ceiling: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rwin_window_ceiling_bytes_per_second",
			Help:    "RWIN/RTT ceiling on each reported flow's throughput, per direction, where window and RTT are known.",
			Buckets: ceilingBuckets,
		}, []string{"service", "direction"}),
		rtt: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rwin_handshake_rtt_seconds",
			Help:    "Handshake round-trip time (SYN to final ACK) of each reported flow where it was captured.",
			Buckets: rttBuckets,
		}, []string{"service"}),
		capture: newCaptureCollector(),
	}
	m.reg.MustRegister(m.flows, m.findings, m.window, m.ceiling, m.rtt, m.capture,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// flow counts one finished flow and its findings.
func (m *metricsSink) flow(r *report.Flow) {
	svc := otherService
	if r.Facts.Service != "" {
		svc = r.Facts.Service
	}
	m.flows.WithLabelValues(svc, negotiationOutcome(r)).Inc()
	for i := range r.Findings {
		x := &r.Findings[i]
		m.findings.WithLabelValues(x.ID, x.Severity.String(), svc).Inc()
	}
	// The server's window limits what the client sends, and the other way
	// round: each side's ceiling is its peer's window over the RTT.
	for _, d := range []struct {
		dir              string
		receiver, sender *report.Side
	}{
		{toServer, &r.Server, &r.Client}, {toClient, &r.Client, &r.Server},
	} {
		if w := d.receiver; w.Basis == analyze.BasisNegotiated && w.WindowKnown {
			m.window.WithLabelValues(svc, d.dir).Observe(float64(w.Window))
		}
		if d.sender.CeilingKnown {
			m.ceiling.WithLabelValues(svc, d.dir).Observe(d.sender.Ceiling / 8)
		}
	}
	if rtt := r.Facts.RTT(); rtt > 0 {
		m.rtt.WithLabelValues(svc).Observe(float64(rtt) / 1e9)
	}
}

// negotiationOutcome reads the outcome from the handshake's facts — was
// scaling negotiated, unknown, or off — and calls it stripped only where
// the wscale-stripped rule, at warn or error, found a device removed the
// option: its info findings describe a server declining, and a scaled
// handshake with the option removed beyond the capture point (the client
// does not scale) is stripped too.
func negotiationOutcome(r *report.Flow) string {
	for i := range r.Findings {
		if x := &r.Findings[i]; x.ID == "wscale-stripped" && x.Severity >= rules.Warn {
			return outcomeStripped
		}
	}
	switch r.Facts.Negotiated.Scaling {
	case analyze.Yes:
		return outcomeScaled
	case analyze.No:
		return outcomeDeclined
	}
	return outcomeUnknown
}

// captureCounts are the live capture's running counters, sampled by the
// capture loop.
type captureCounts struct {
	packets   uint64 // packets rwin read
	live      int    // flows in progress
	evicted   uint64 // flows reported early because the table was full
	statsOK   bool   // libpcap's counters below were read
	received  uint64 // libpcap: packets the kernel received
	dropped   uint64 // libpcap: dropped for lack of buffer space
	ifDropped uint64 // libpcap: dropped by the interface or its driver
}

// captureCollector exposes counters that the capture loop owns as const
// metrics: the analyzer's state is not safe for a scrape to read, so the
// loop hands over a copy (set) about once a second.
type captureCollector struct {
	mu   sync.Mutex
	c    captureCounts
	desc struct{ packets, live, evicted, received, dropped, ifDropped *prometheus.Desc }
}

func newCaptureCollector() *captureCollector {
	cc := &captureCollector{}
	cc.desc.packets = prometheus.NewDesc("rwin_packets_total", "Packets rwin read from the capture.", nil, nil)
	cc.desc.live = prometheus.NewDesc("rwin_live_flows", "TCP flows in progress (not yet reported).", nil, nil)
	cc.desc.evicted = prometheus.NewDesc("rwin_evicted_flows_total",
		"Flows reported early because the flow table was full (--max-flows).", nil, nil)
	cc.desc.received = prometheus.NewDesc("rwin_kernel_received_packets_total",
		"Packets the kernel's capture received (libpcap's ps_recv).", nil, nil)
	cc.desc.dropped = prometheus.NewDesc("rwin_kernel_dropped_packets_total",
		"Packets the kernel dropped for lack of capture buffer space (libpcap's ps_drop): raise -B.", nil, nil)
	cc.desc.ifDropped = prometheus.NewDesc("rwin_interface_dropped_packets_total",
		"Packets the interface or its driver dropped (libpcap's ps_ifdrop).", nil, nil)
	return cc
}

func (cc *captureCollector) set(c captureCounts) {
	cc.mu.Lock()
	cc.c = c
	cc.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (cc *captureCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cc.desc.packets, cc.desc.live, cc.desc.evicted,
		cc.desc.received, cc.desc.dropped, cc.desc.ifDropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. The kernel's counters are left
// out while libpcap cannot read them: absent, not 0.
func (cc *captureCollector) Collect(ch chan<- prometheus.Metric) {
	cc.mu.Lock()
	c := cc.c
	cc.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(cc.desc.packets, prometheus.CounterValue, float64(c.packets))
	ch <- prometheus.MustNewConstMetric(cc.desc.live, prometheus.GaugeValue, float64(c.live))
	ch <- prometheus.MustNewConstMetric(cc.desc.evicted, prometheus.CounterValue, float64(c.evicted))
	if c.statsOK {
		ch <- prometheus.MustNewConstMetric(cc.desc.received, prometheus.CounterValue, float64(c.received))
		ch <- prometheus.MustNewConstMetric(cc.desc.dropped, prometheus.CounterValue, float64(c.dropped))
		ch <- prometheus.MustNewConstMetric(cc.desc.ifDropped, prometheus.CounterValue, float64(c.ifDropped))
	}
}

// metricsServer serves /metrics and /healthz, and nothing else, with
// timeouts so that a slow or stalled client cannot hold connections open.
type metricsServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// listenMetrics binds addr now, so that a taken port fails the start
// rather than a later scrape.
func listenMetrics(addr string, m *metricsSink) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("live: --metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry: m.reg, Timeout: 10 * time.Second, MaxRequestsInFlight: 4,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	s := &metricsServer{ln: ln, done: make(chan error, 1), srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr is where the server listens (the port chosen, for ":0").
func (s *metricsServer) Addr() net.Addr { return s.ln.Addr() }

// close stops the server, letting a scrape in progress finish.
func (s *metricsServer) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
