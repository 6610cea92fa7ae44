package analyze

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestServiceName(t *testing.T) {
	for port, want := range map[uint16]string{
		3389: "rdp", 445: "smb", 139: "smb", 443: "https", 20: "ftp-data",
		8443: "https-alt", 6653: "openflow",
		0: "", 1: "", 444: "", 3390: "", 50000: "", 65535: "",
	} {
		assert.Equal(t, want, ServiceName(port), "port %d", port)
	}
}

func TestRolesByPort(t *testing.T) {
	addr := netip.MustParseAddr("192.0.2.1")
	ep := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(addr, port) }
	for _, tc := range []struct {
		name           string
		src, dst       uint16
		client, server uint16
		byPort         bool
	}{
		{"to a known service", 51000, 3389, 51000, 3389, true},
		{"from a known service", 445, 51000, 51000, 445, true},
		{"privileged port facing an unprivileged one", 2000, 999, 2000, 999, true},
		{"below the ephemeral range facing one inside it", 40000, 9000, 40000, 9000, true},
		{"both known: the privileged one serves", 443, 3389, 3389, 443, true},
		{"both known and privileged: the first sender", 445, 443, 445, 443, false},
		{"both ephemeral: the first sender", 40000, 50000, 40000, 50000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s, byPort := rolesByPort(ep(tc.src), ep(tc.dst))
			assert.Equal(t, tc.client, c.Port())
			assert.Equal(t, tc.server, s.Port())
			assert.Equal(t, tc.byPort, byPort)
		})
	}
}
