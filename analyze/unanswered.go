package analyze

import (
	"net/netip"
	"slices"
)

// A server endpoint that left SYNs unanswered is judged across the whole
// capture, not flow by flow: one client's unanswered SYNs may be its own
// path, while many clients' SYNs to one address and port, over minutes,
// say the server or a filter in front of it does not answer anyone.

// Bounds of the unanswered-SYN table: a scan or a SYN flood touches an
// endpoint per packet, and memory must stay bounded by the flow table.
// Attempts on endpoints past maxUnansweredServers are only counted;
// clients past maxUnansweredClients (over every endpoint) make the
// client count a lower bound.
const (
	maxUnansweredServers = 256
	maxUnansweredClients = 4096
)

// UnansweredServer is a server endpoint (address and port) whose SYNs no
// SYN-ACK or reset answered in the capture.
type UnansweredServer struct {
	Server netip.AddrPort
	// Clients counts the client addresses that tried; at least that many
	// when ClientsCapped (the table of clients was full).
	Clients       int
	ClientsCapped bool
	// Attempts counts the connections tried (client ports), SYNs every
	// try including retries.
	Attempts, SYNs uint64
	// First and Last bound the attempts in time (ns), from their timed
	// packets; both 0 when none had a timestamp.
	First, Last int64
}

// Unanswered sums up, for the capture, the connection attempts that
// nothing answered (see Flow.Unanswered), by server endpoint.
type Unanswered struct {
	// Servers, those with the most clients first.
	Servers []UnansweredServer
	// OtherAttempts and OtherSYNs count the attempts on endpoints past
	// the table's bound.
	OtherAttempts, OtherSYNs uint64
}

// Unanswered reports a flow that is only SYNs, none answered: nothing
// came back from the server, not even a reset.
func (f *Flow) Unanswered() bool {
	return f.SYN.Seen && !f.SYNACK.Seen && f.Server.Packets == 0 && f.Client.Packets == uint64(f.SYNs)
}

type unansweredClient struct {
	server int32
	addr   [16]byte
}

// unansweredTable gathers Unanswered by server endpoint, in bounded
// memory; its maps are made on the first unanswered flow.
type unansweredTable struct {
	index   map[endpointKey]int32
	servers []UnansweredServer
	clients map[unansweredClient]struct{}
	sum     Unanswered
}

// add counts a finished flow, if it is an unanswered attempt.
func (t *unansweredTable) add(f *Flow) {
	if !f.Unanswered() {
		return
	}
	if t.index == nil {
		t.index = make(map[endpointKey]int32, maxUnansweredServers)
		t.clients = make(map[unansweredClient]struct{}, maxUnansweredClients)
	}
	key := endpointKey{addr: f.Server.Addr.Addr().As16(), port: f.Server.Addr.Port()}
	i, ok := t.index[key]
	if !ok {
		if len(t.servers) >= maxUnansweredServers {
			t.sum.OtherAttempts++
			t.sum.OtherSYNs += uint64(f.SYNs)
			return
		}
		i = int32(len(t.servers))
		t.index[key] = i
		t.servers = append(t.servers, UnansweredServer{Server: f.Server.Addr})
	}
	s := &t.servers[i]
	s.Attempts++
	s.SYNs += uint64(f.SYNs)
	if f.End != 0 {
		if s.Last == 0 || f.Start < s.First {
			s.First = f.Start
		}
		s.Last = max(s.Last, f.End)
	}
	c := unansweredClient{server: i, addr: f.Client.Addr.Addr().As16()}
	if _, seen := t.clients[c]; seen {
		return
	}
	if len(t.clients) >= maxUnansweredClients {
		s.ClientsCapped = true
		return
	}
	t.clients[c] = struct{}{}
	s.Clients++
}

// result returns the table, the endpoints with the most clients first
// (then the most SYNs).
func (t *unansweredTable) result() Unanswered {
	out := t.sum
	out.Servers = slices.Clone(t.servers)
	slices.SortStableFunc(out.Servers, func(a, b UnansweredServer) int {
		if a.Clients != b.Clients {
			return b.Clients - a.Clients
		}
		return int(min(max(int64(b.SYNs)-int64(a.SYNs), -1), 1))
	})
	return out
}
