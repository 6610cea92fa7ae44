package analyze

import (
	"time"

	"rwin/capture"
)

// Defaults for a Session.
const (
	// DefaultLiveLinger is how long a closed flow (FIN both ways, or RST)
	// waits for late packets before a Session reports it: long enough for
	// the last ACK and a retransmitted FIN on any sane path, short enough
	// that a user watching sees the flow end when it ends.
	DefaultLiveLinger = 2 * time.Second
	// DefaultIdleTimeout finishes a flow, open or not, that has been quiet
	// this long: far beyond any RTO backoff that still moves data, well
	// under the hours an idle RDP or SMB session may stay up (it is then
	// reported in parts).
	DefaultIdleTimeout = 2 * time.Minute
	// sweepEvery is how often (in capture time) a Session looks for flows
	// to finish.
	sweepEvery = int64(time.Second)
)

// Session analyzes a capture that does not end by itself, such as a live
// interface: the caller hands it packets as they come, lets time pass
// between them with Advance, looks at the flows in progress with Snapshot
// and ends it with Close. Packets are decoded, counted and analyzed exactly
// as Run does.
//
// Flows end differently than in Run: a closed flow is finished once quiet
// for the linger time (Config.Linger, default DefaultLiveLinger), but a
// flow that carried no data yet — a connection waiting in a pool, a
// browser's preconnect — stays until the idle timeout (Config.IdleTimeout,
// default DefaultIdleTimeout), so that its handshake is still there when
// the data comes.
//
// A Session is not safe for concurrent use.
type Session struct {
	sum       Summary
	a         *Analyzer
	dec       capture.Decoder
	seg       capture.Segment
	linger    int64
	lastSweep int64
}

// NewSession returns a Session whose results are named name (the
// interface) and which hands each finished flow to emit (see New).
func NewSession(name string, cfg Config, emit func(*Flow)) *Session {
	s := &Session{sum: Summary{Source: name}, linger: int64(cfg.Linger)}
	if s.linger <= 0 {
		s.linger = int64(DefaultLiveLinger)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	// The table's own linger would finish data-less flows with the closed
	// ones: the Session finishes closed flows itself, and leaves the rest
	// to the idle timeout.
	cfg.Linger = -1
	s.a = New(cfg, emit)
	return s
}

// Add counts, decodes and analyzes one packet. It does not allocate, except
// for the state of a new flow.
func (s *Session) Add(p *capture.Packet) {
	s.sum.add(p, nil, &s.dec, &s.seg, s.a)
	if s.a.clock-s.lastSweep >= sweepEvery {
		s.sweep()
	}
}

// Advance tells the Session that the time is now (ns since the epoch, the
// clock packets are stamped with) although no packet came: flows that have
// been quiet too long are finished even on a silent link.
func (s *Session) Advance(now int64) {
	if now > s.a.clock {
		s.a.clock = now
	}
	if s.a.clock-s.lastSweep >= sweepEvery {
		s.a.expire()
		s.sweep()
	}
}

// sweep finishes the closed flows quiet for longer than the linger time.
// Those that ended cleanly have a list of their own; the rest sit among
// the data-less flows in the table's transient list, oldest activity at
// the tail: the walk stops at the first flow too recent to finish (see
// Analyzer.finishQuiet), so it passes only data-less flows younger than
// the idle timeout.
func (s *Session) sweep() {
	s.lastSweep = s.a.clock
	s.a.finishQuiet(&s.a.ended, s.linger, nil)
	s.a.finishQuiet(&s.a.transient, s.linger, (*flowState).closed)
}

// closed reports a flow that has ended: reset, or FIN both ways.
func (fs *flowState) closed() bool {
	return fs.Client.RSTPacket != 0 || fs.Server.RSTPacket != 0 ||
		(fs.Client.FINPacket != 0 && fs.Server.FINPacket != 0)
}

// ended reports a flow that has ended cleanly: reset, or FIN both ways
// with each side's FIN (and so all its data) acknowledged by the other.
// Only a lost last ACK or data in flight across a reset can follow.
func (fs *flowState) ended() bool {
	if fs.Client.RSTPacket != 0 || fs.Server.RSTPacket != 0 {
		return true
	}
	return fs.Client.FINPacket != 0 && fs.Server.FINPacket != 0 &&
		fs.client.finAcked(&fs.server) && fs.server.finAcked(&fs.client)
}

// finAcked reports whether the peer (track p) acknowledged everything t
// sent, its FIN included: FIN occupies the last sequence number.
func (t *track) finAcked(p *track) bool {
	return t.nxtOK && p.ackOK && !p.ack.LessThan(t.nxt)
}

// Snapshot calls fn with every flow in progress (see Analyzer.Snapshot).
func (s *Session) Snapshot(fn func(*Flow)) { s.a.Snapshot(fn) }

// Live returns the number of flows in progress.
func (s *Session) Live() int { return s.a.Live() }

// Summary returns the counters so far.
func (s *Session) Summary() Summary {
	sum := s.sum
	sum.Analyzer = s.a.Stats()
	return sum
}

// Close finishes every flow in progress, oldest activity first, and
// returns the final counters. The Session is not to be used after.
func (s *Session) Close() Summary {
	s.a.Flush()
	return s.Summary()
}
