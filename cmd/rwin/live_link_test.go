package main

import (
	"bytes"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
	"rwin/fixtures"
)

// waitStderr waits until rwin's standard error holds want.
func (p *liveProcess) waitStderr(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(p.errText(), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("standard error never said %q: %s", want, p.errText())
}

func TestLinkStateFromLibpcapFlags(t *testing.T) {
	for _, tc := range []struct {
		name   string
		iface  capture.Interface
		want   linkState
		listed bool
	}{
		{"up, running and connected is up", capture.Interface{Name: "eth0", Up: true, Running: true, Connection: "connected"}, linkUp, true},
		{"up without a connection status is up", capture.Interface{Name: "eth0", Up: true, Running: true}, linkUp, true},
		{"loopback's not applicable status is up", capture.Interface{Name: "eth0", Up: true, Running: true, Connection: "not applicable"}, linkUp, true},
		{"not up is administratively down", capture.Interface{Name: "eth0", Running: true, Connection: "connected"}, linkAdminDown, true},
		{"up but not running has no carrier", capture.Interface{Name: "eth0", Up: true}, linkNoCarrier, true},
		{"running but disconnected has no carrier", capture.Interface{Name: "eth0", Up: true, Running: true, Connection: "disconnected"}, linkNoCarrier, true},
		{"another interface's name is not listed", capture.Interface{Name: "eth1"}, linkUp, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, listed := linkStateOf([]capture.Interface{{Name: "lo", Loopback: true, Up: true, Running: true}, tc.iface}, "eth0")
			assert.Equal(t, tc.listed, listed)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestLiveSaysWhenItsInterfaceGoesDownAndUp takes the captured link down
// between two transfers, on rwin's side (ip link set down) and on the
// peer's (the veth loses its carrier). rwin, running as nobody with no
// capability left, says when the link went down and when it came back,
// keeps capturing on the same handle, and reports both transfers.
func TestLiveSaysWhenItsInterfaceGoesDownAndUp(t *testing.T) {
	requireLive(t)
	fixtures.RequireRoot(t)
	bin := rwinBinary(t)
	for _, tc := range []struct {
		name, side, why string
	}{
		{"set down on the captured side", "server", "administratively"},
		{"set down on the peer, so no carrier", "client", "no carrier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab := newLiveLab(t)
			ns, dev := lab.serverNS, lab.serverIf
			if tc.side == "client" {
				ns, dev = lab.clientNS, strings.Replace(lab.serverIf, "rwls", "rwlc", 1)
			}
			p := lab.startLive(bin, "-Z", "nobody", "tcp")
			srv := lab.startServer()
			lab.transfer(cleanPort)
			p.waitFlows(t, 1)

			lab.ip("-n", ns, "link", "set", dev, "down")
			p.waitStderr(t, "interface down ("+tc.why+")")
			lab.ip("-n", ns, "link", "set", dev, "up")
			p.waitStderr(t, "interface up again")
			lab.transfer(stripPort)
			srv.wait()
			p.waitFlows(t, 2)
			p.interrupt(t)

			flows, summary := labRecords(t, p.lines())
			checkLabFlows(t, flows)
			assert.Equal(t, float64(2), summary["flows"])
			assert.Equal(t, "interrupt", jsonAt(summary, "capture", "stopped"))
			iface := regexp.QuoteMeta(lab.serverIf)
			stamp := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)`
			assert.Regexp(t, `(?m)^rwin: listening on `+iface+`, .*\n`+
				`rwin: live: `+iface+`: interface down \(`+tc.why+`\) at `+stamp+`; still capturing, flows in progress are kept\n`+
				`rwin: live: `+iface+`: interface up again at `+stamp+`, after [0-9.]+m?s down; capturing\n`,
				p.errText(), "one line when the link went down, one when it came back, in that order")
			assert.Equal(t, 1, strings.Count(p.errText(), "interface down"), p.errText())
			assert.Equal(t, 1, strings.Count(p.errText(), "interface up again"), p.errText())
		})
	}
}

// TestLiveEndsCleanlyWhenItsInterfaceIsDeleted deletes the captured veth
// right after a transfer: rwin ends at once with the transfer's flow, the
// summary, and libpcap's one-line reason.
func TestLiveEndsCleanlyWhenItsInterfaceIsDeleted(t *testing.T) {
	requireLive(t)
	lab := newLiveLab(t)
	bin := rwinBinary(t)
	p := lab.startLive(bin, "tcp")
	lab.startServer()
	lab.transfer(cleanPort)
	lab.ip("-n", lab.serverNS, "link", "del", lab.serverIf)

	select {
	case err := <-p.done:
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "rwin live must fail when its interface is gone: %v; %s", err, p.errText())
		assert.Equal(t, exitInput, exit.ExitCode())
	case <-time.After(10 * time.Second):
		t.Fatalf("rwin live did not end when its interface was deleted: %s", p.errText())
	}
	flows, summary := labRecords(t, p.lines())
	require.Contains(t, flows, cleanPort, "the transfer's flow, reported before or at the end")
	assert.Equal(t, float64(1), summary["flows"])
	assert.Equal(t, "error", jsonAt(summary, "capture", "stopped"))
	assert.Regexp(t, `\nrwin: live: `+regexp.QuoteMeta(lab.serverIf)+`: The interface disappeared\n\z`, p.errText())
}

// TestLinkReportOneLinePerOutage checks that an interface which passes
// from administratively down through no-carrier back to up (what `ip link
// set up` does to a veth) is reported as one outage: one line down, one
// line up.
func TestLinkReportOneLinePerOutage(t *testing.T) {
	var buf bytes.Buffer
	r := linkReport{w: &buf, iface: "eth0"}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r.change(linkChange{linkAdminDown, t0})
	r.change(linkChange{linkNoCarrier, t0.Add(time.Second)})
	r.change(linkChange{linkUp, t0.Add(2 * time.Second)})
	r.change(linkChange{linkNoCarrier, t0.Add(5 * time.Second)})
	assert.Equal(t, "rwin: live: eth0: interface down (administratively) at 2026-01-02T03:04:05Z; still capturing, flows in progress are kept\n"+
		"rwin: live: eth0: interface up again at 2026-01-02T03:04:07Z, after 2s down; capturing\n"+
		"rwin: live: eth0: interface down (no carrier) at 2026-01-02T03:04:10Z; still capturing, flows in progress are kept\n",
		buf.String())
}
