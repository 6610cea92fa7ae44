package main

import (
	"io"
	"os"

	"rwin/analyze"
	"rwin/capture"
)

// liveSinks are where rwin live's results go: the report stream (standard
// output or the -o file) and, with --metrics, the Prometheus sink and its
// HTTP server. The capture loop owns them; only the metric values are read
// from the server's goroutines.
type liveSinks struct {
	stream  io.Writer      // the report: standard output or log
	log     *logFile       // -o, or nil
	metrics *metricsSink   // --metrics, or nil
	server  *metricsServer // --metrics, or nil
}

// openLiveSinks opens the -o file and binds the metrics address, both
// before privileges are dropped: the file's directory or a port below
// 1024 may need them.
func openLiveSinks(o liveOptions, stdout io.Writer) (*liveSinks, error) {
	s := &liveSinks{stream: stdout}
	if o.output != "" {
		l, err := openLogFile(o.output)
		if err != nil {
			return nil, err
		}
		s.log, s.stream = l, l
	}
	if o.metrics != "" {
		s.metrics = newMetricsSink()
		srv, err := listenMetrics(o.metrics, s.metrics)
		if err != nil {
			s.close()
			return nil, err
		}
		s.server = srv
	}
	return s, nil
}

// files lists the files rwin keeps writing, with the -w file if any: a -Z
// user is given them.
func (s *liveSinks) files(pcap *os.File) []*os.File {
	var fs []*os.File
	if s.log != nil {
		fs = append(fs, s.log.f)
	}
	if pcap != nil {
		fs = append(fs, pcap)
	}
	return fs
}

// sample hands the capture's counters to the metrics sink; the capture
// loop calls it about once a second and once more at the end.
func (s *liveSinks) sample(src *capture.Live, sess *analyze.Session) {
	if s.metrics == nil {
		return
	}
	sum := sess.Summary()
	c := captureCounts{packets: sum.Packets, live: sess.Live(), evicted: sum.Analyzer.Evicted}
	if st, err := src.Stats(); err == nil {
		c.statsOK, c.received, c.dropped, c.ifDropped = true, st.Received, st.Dropped, st.IfDropped
	}
	s.metrics.capture.set(c)
}

// close stops the metrics server and closes the -o file.
func (s *liveSinks) close() {
	if s.server != nil {
		s.server.close()
	}
	if s.log != nil {
		s.log.Close()
	}
}
