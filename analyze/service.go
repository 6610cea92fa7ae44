package analyze

import "net/netip"

// services names the server ports rwin users care about most (RDP and SMB
// first) and the common ones that help read a capture.
var services = map[uint16]string{
	20: "ftp-data", 21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "dns",
	80: "http", 88: "kerberos", 110: "pop3", 111: "rpcbind", 119: "nntp",
	135: "msrpc", 139: "smb", 143: "imap", 179: "bgp", 389: "ldap",
	443: "https", 445: "smb", 465: "smtps", 587: "submission", 636: "ldaps",
	993: "imaps", 995: "pop3s", 1433: "mssql", 1723: "pptp", 2049: "nfs",
	3268: "ldap-gc", 3306: "mysql", 3389: "rdp", 5432: "postgres",
	5900: "vnc", 5985: "winrm", 5986: "winrm-https", 6379: "redis",
	6653: "openflow", 8080: "http-alt", 8443: "https-alt",
}

// ServiceName returns the well-known service of a server port, or "".
// Port 139 is SMB over NetBIOS session service, as Windows uses it.
func ServiceName(port uint16) string { return services[port] }

// ephemeralStart is where the dynamic port ranges clients draw from begin:
// Linux uses 32768–60999, Windows and IANA 49152–65535.
const ephemeralStart = 32768

// rolesByPort guesses client and server of a flow whose handshake was not
// captured: the side on a well-known service port is the server; else the
// side on a port below 1024 facing one above; else the side below the
// ephemeral ranges facing one inside them. byPort is false when the ports
// do not tell, and the first packet's sender is taken as the client.
func rolesByPort(src, dst netip.AddrPort) (client, server netip.AddrPort, byPort bool) {
	sp, dp := src.Port(), dst.Port()
	_, sKnown := services[sp]
	_, dKnown := services[dp]
	switch {
	case dKnown && !sKnown:
		return src, dst, true
	case sKnown && !dKnown:
		return dst, src, true
	case dp < 1024 && sp >= 1024:
		return src, dst, true
	case sp < 1024 && dp >= 1024:
		return dst, src, true
	case dp < ephemeralStart && sp >= ephemeralStart:
		return src, dst, true
	case sp < ephemeralStart && dp >= ephemeralStart:
		return dst, src, true
	}
	return src, dst, false
}
