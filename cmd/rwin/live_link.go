package main

import (
	"fmt"
	"io"
	"time"

	"rwin/capture"
)

// linkPoll is how often rwin live looks at its interface's flags.
const linkPoll = time.Second

// linkState is an interface's state as libpcap's flags
// (pcap_findalldevs(3PCAP)) show it.
type linkState int

const (
	linkUp        linkState = iota // IFF_UP and IFF_RUNNING
	linkAdminDown                  // IFF_UP clear: `ip link set dev X down`
	linkNoCarrier                  // up, but no carrier: cable out, veth peer down
)

func (s linkState) String() string {
	switch s {
	case linkAdminDown:
		return "administratively"
	case linkNoCarrier:
		return "no carrier"
	}
	return "up"
}

// linkChange is a state the interface entered, and when rwin saw it.
type linkChange struct {
	state linkState
	at    time.Time
}

// linkStateOf finds name in ifs; ok is false when it is not listed.
func linkStateOf(ifs []capture.Interface, name string) (s linkState, ok bool) {
	for _, i := range ifs {
		if i.Name != name {
			continue
		}
		switch {
		case !i.Up:
			return linkAdminDown, true
		case !i.Running || i.Connection == "disconnected":
			// Linux keeps IFF_RUNNING on a veth whose peer is down
			// (`ip link` shows NO-CARRIER); libpcap's connection status
			// (PCAP_IF_CONNECTION_STATUS_DISCONNECTED) reads the carrier.
			return linkNoCarrier, true
		}
		return linkUp, true
	}
	return linkUp, false
}

// watchLink polls the flags of interface name every linkPoll and sends
// each change of state, starting from up, until done is closed.
//
// On Linux the capture's packet socket survives its interface going down
// and up again, administratively or by carrier, and delivers the packets
// of the link once it is back (TestLiveSaysWhenItsInterfaceGoesDownAndUp),
// so rwin keeps the handle and only says what happened: reopening would
// need CAP_NET_RAW, which rwin drops once the capture is open. libpcap
// itself ends the capture when the interface is deleted ("The interface
// disappeared"); an interface that is not listed is therefore left to it
// (and a renamed one still captures), not reported here. Listing the
// interfaces needs no privilege, and polling runs beside the capture loop
// so that a slow listing (Npcap's) never delays reading packets.
func watchLink(name string, done <-chan struct{}) <-chan linkChange {
	changes := make(chan linkChange, 1)
	go func() {
		t := time.NewTicker(linkPoll)
		defer t.Stop()
		last := linkUp
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			ifs, err := capture.Interfaces()
			if err != nil {
				continue
			}
			s, ok := linkStateOf(ifs, name)
			if !ok || s == last {
				continue
			}
			last = s
			select {
			case changes <- linkChange{state: s, at: time.Now()}:
			case <-done:
				return
			}
		}
	}()
	return changes
}

// linkReport writes the one stderr line for each change of the
// outage of the interface and one when it ends; since is when it went
// down.
type linkReport struct {
	w     io.Writer
	iface string
	since time.Time
}

func (r *linkReport) change(c linkChange) {
	stamp := c.at.Format(time.RFC3339)
	if c.state != linkUp {
		if !r.since.IsZero() {
			// Still down, for another reason: an interface set up again
			// passes through no-carrier until its link is back. One
			// line per outage.
			return
		}
		r.since = c.at
		fmt.Fprintf(r.w, "rwin: live: %s: interface down (%s) at %s; still capturing, flows in progress are kept\n",
			shown(r.iface), c.state, stamp)
		return
	}
	down := c.at.Sub(r.since).Round(100 * time.Millisecond)
	r.since = time.Time{}
	fmt.Fprintf(r.w, "rwin: live: %s: interface up again at %s, after %s down; capturing\n", shown(r.iface), stamp, down)
}
