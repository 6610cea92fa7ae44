package analyze

import "net/netip"

// ServiceName returns the well-known service of a server port, or "":
// the ports rwin users care about most (RDP and SMB first) and the common
// ones that help read a capture. Port 139 is SMB over NetBIOS session
// service, as Windows uses it.
//
// A switch rather than a map: it runs as every flow starts, and the map's
// hashing and its memory, cold among the flows' state, cost 400 ns a
// lookup on the benchmark capture (pprof), 2% of rwin read's CPU time.
func ServiceName(port uint16) string {
	switch port {
	case 20:
		return "ftp-data"
	case 21:
		return "ftp"
	case 22:
		return "ssh"
	case 23:
		return "telnet"
	case 25:
		return "smtp"
	case 53:
		return "dns"
	case 80:
		return "http"
	case 88:
		return "kerberos"
	case 110:
		return "pop3"
	case 111:
		return "rpcbind"
	case 119:
		return "nntp"
	case 135:
		return "msrpc"
	case 139:
		return "smb"
	case 143:
		return "imap"
	case 179:
		return "bgp"
	case 389:
		return "ldap"
	case 443:
		return "https"
	case 445:
		return "smb"
	case 465:
		return "smtps"
	case 587:
		return "submission"
	case 636:
		return "ldaps"
	case 993:
		return "imaps"
	case 995:
		return "pop3s"
	case 1433:
		return "mssql"
	case 1723:
		return "pptp"
	case 2049:
		return "nfs"
	case 3268:
		return "ldap-gc"
	case 3306:
		return "mysql"
	case 3389:
		return "rdp"
	case 5432:
		return "postgres"
	case 5900:
		return "vnc"
	case 5985:
		return "winrm"
	case 5986:
		return "winrm-https"
	case 6379:
		return "redis"
	case 6653:
		return "openflow"
	case 8080:
		return "http-alt"
	case 8443:
		return "https-alt"
	}
	return ""
}

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
	sKnown, dKnown := ServiceName(sp) != "", ServiceName(dp) != ""
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
