package rules

// Guide says, for one rule, what its findings show a reader in general
// terms: the packets they cite as evidence and the advice they give. Each
// finding's own evidence and advice name its flow's packets, sides and
// stack; the guide is what `rwin rules ID` shows before any capture.
type Guide struct {
	Evidence string // the packets a finding cites, and what each shows
	Advice   string // what to do about it, as the findings advise
}

// Guide returns the rule's guide; every rule of the catalog has one (a
// test holds it).
func (r *Rule) Guide() Guide { return guides[r.ID] }

// The texts restate what each rule's code cites and advises.
const (
	bothEnds        = " Capturing at both ends at once and comparing them (rwin diff) places the device."
	findEditor      = "Find the device on the path that rewrites TCP options (a firewall's TCP normalization, an IPS, a load balancer's TCP profile, iptables TCPOPTSTRIP) and make it pass "
	pairEvidence    = "Packet pairs: each segment with its packet number in capture A and in capture B, "
	enforcerAdvice  = "Update or reconfigure the stateful firewall, NAT or IPS that tracks the connection as unscaled (it missed or ignored the handshake's window scale option: look for window-scaling fixes, TCP state-tracking or normalization settings, asymmetric routing, a flow-table timeout), or disable scaling on the receiver until it is fixed."
	synProxyAdvice  = "Look at the SYN-flood protection (SYN cookies, SYN proxy) of the load balancer or firewall in front of the server: its SYN-ACK must carry the options the server will use, window scale above all, or the protection must be off for this service."
	handshakeCopies = "as sent and as received, each with its option layout and TTL (the finding's summary gives the values that changed)"
)

var guides = map[string]Guide{
	"wscale-stripped": {
		Evidence: "The SYN and the SYN-ACK, each with its option layout (NOPs where the option stood), window field and TTL; the first window after the handshake of a side that scales anyway; the first segment beyond the unscaled window.",
		Advice:   findEditor + "option 3 (window scale)." + bothEnds,
	},
	"wscale-declined": {
		Evidence: "The SYN with window scale and the SYN-ACK without it, each with its option layout, window field and TTL.",
		Advice:   "Enable window scaling on the server, by the setting of the stack its SYN-ACK looks like (Linux: sysctl net.ipv4.tcp_window_scaling=1; Windows: netsh int tcp set global autotuninglevel=normal). Captured away from the server, a capture there tells a declining server from a device stripping the SYN's option.",
	},
	"wscale-zeroed": {
		Evidence: "The SYN or SYN-ACK carrying shift 0, with its layout, window and TTL; the endpoint's first window after the handshake (its SYN window divided by 2^k), or the first segment that fills exactly the unscaled window.",
		Advice:   findEditor + "the shift unchanged." + bothEnds,
	},
	"unscaled-window-enforced": {
		Evidence: "Where the wait for an acknowledgment began, the first retransmission beyond the unscaled window and the reset that ended the flow; seen at the receiver, how far the sender's sequence numbers run past the last data captured.",
		Advice:   enforcerAdvice + " A capture next to the sender shows the same segments retransmitted again and again.",
	},
	"syn-proxy": {
		Evidence: "The SYN and the proxy's SYN-ACK with their layouts, windows and TTLs, then what gives the proxy away: the server's first segment with another TTL, its first timestamp from another clock, a client echoing a timestamp the server never sent, or a handshake ACK sooner than any path to the server.",
		Advice:   synProxyAdvice + " A capture on the other side of the device shows the SYN-ACK the other end got (rwin diff).",
	},
	"window-limited": {
		Evidence: "The receiving side's first and last window fields, beside the transfer's rate, RTT and RWIN/RTT ceiling in the summary.",
		Advice:   "Give the receiver a larger window: let receive-buffer auto-tuning work (Linux: the net.ipv4.tcp_rmem maximum, and no fixed SO_RCVBUF in the application; Windows: netsh int tcp set global autotuninglevel=normal), or a larger shift where the shift caps it.",
	},
	"loss-limited": {
		Evidence: "The receiving side's first window, beside the retransmissions, the loss rate and the loss-bound ceiling in the summary.",
		Advice:   "Find where the segments are lost: a congested or policed link, a duplex mismatch, a bad cable or Wi-Fi. A larger window will not help until the loss stops.",
	},
	"zero-window": {
		Evidence: "The first zero-window advertisement.",
		Advice:   "The receiving application stopped reading: look at its load (CPU, disk, a blocked RDP or SMB client) rather than the network.",
	},
	"autotuning-level": {
		Evidence: "The Windows SYN or SYN-ACK whose option layout and shift show the auto-tuning level.",
		Advice:   "On that Windows host: netsh int tcp show global shows the level; netsh int tcp set global autotuninglevel=normal restores the default. If Windows lowered it by itself, its heuristics did: netsh int tcp set heuristics disabled. Group policy or a \"TCP optimizer\" tool may have set it.",
	},
	"scale-unknown": {
		Evidence: "Where bytes in flight first exceeded the unscaled window, when they prove a minimum shift.",
		Advice:   "Capture the connection set-up (start the capture before the session connects) to see the negotiated shift.",
	},
	"wscale-invalid": {
		Evidence: "The handshake segment with the shift above 14.",
		Advice:   "Find the stack or middlebox that writes this value; rwin applies 14 as RFC 7323 §2.3 requires, other devices may not.",
	},
	"wscale-non-syn": {
		Evidence: "The first non-SYN segment carrying window scale.",
		Advice:   "Harmless to conforming peers, which ignore it; look for a device that inserts or replays options.",
	},
	"option-malformed": {
		Evidence: "The first segment with a malformed option: its kind, offset and length, and what is wrong with it.",
		Advice:   "Options after the fault are lost to the receiver; capture at the sender to see whether a middlebox corrupts them.",
	},
	"sack-unnegotiated": {
		Evidence: "The first segment carrying a SACK block.",
		Advice:   "Compare the SYN and SYN-ACK options with a capture at the other end: if they carried SACK-permitted there, a middlebox strips it.",
	},
	"timestamps-unnegotiated": {
		Evidence: "The first segment carrying timestamps.",
		Advice:   "Compare the SYN and SYN-ACK options with a capture at the other end: if they carried timestamps there, a middlebox strips them.",
	},
	"syn-options-changed": {
		Evidence: "The first SYN and the answered (or last) SYN, each with its option layout.",
		Advice:   "The first SYNs went unanswered: look for loss or filtering on the path (a firewall dropping SYNs, a slow SYN proxy). A retry without window scale caps every window at 64 KiB.",
	},
	"slow-setup": {
		Evidence: "The first SYN, the SYN the SYN-ACK answered, and the first SYN-ACK.",
		Advice:   "Handshake packets were lost: look for a firewall or IPS that drops or rate-limits SYNs (SYN-flood protection, a full connection table), a server whose listen queue overflowed (Linux: nstat TcpExtListenOverflows; Windows: netstat -s), or loss on the path; a capture at the server shows which side lost them.",
	},
	"syn-unanswered": {
		Evidence: "The first SYN (the summary adds up unanswered SYNs per server endpoint).",
		Advice:   "The server is down or not listening behind a firewall that drops rather than rejects, a filter on the path drops the SYNs, or (in a one-sided capture) the answers took another path. Check that the server is up and reachable on this port from the client's network (Test-NetConnection -Port on Windows, nc -vz elsewhere).",
	},
	"connection-refused": {
		Evidence: "The SYN and the reset that answered it.",
		Advice:   "Nothing listens on this port on the server, or a firewall rejects with a reset in its name: check that the service runs and what the firewall allows.",
	},
	"connection-reset": {
		Evidence: "The reset, with the side that sent it.",
		Advice:   "An application aborted the connection, or a device reset it in its name (an idle timeout on a firewall or load balancer).",
	},
	"sack-stripped": {
		Evidence: "The SYN with SACK-permitted and the SYN-ACK without it, with their layouts, windows and TTLs.",
		Advice:   findEditor + "SACK-permitted. Without SACK (RFC 2018) every loss in a window costs extra round trips.",
	},
	"timestamps-stripped": {
		Evidence: "The SYN with timestamps and the SYN-ACK without them, with their layouts, windows and TTLs.",
		Advice:   findEditor + "timestamps. Without them (RFC 7323 §3) there is no PAWS protection and fewer RTT samples.",
	},
	"mss-clamped": {
		Evidence: "The SYN and the SYN-ACK (or the one handshake segment) with the MSS they carry.",
		Advice:   "Harmless when it matches the path's MTU (IPsec, GRE and PPPoE need it); on a path that carries 1500-byte packets end to end, find the device that clamps it.",
	},
	"path-answers-handshake": {
		Evidence: pairEvidence + "the SYN-ACK as sent and as received, with its option layout and TTL in each.",
		Advice:   "Find the SYN proxy or SYN-cookie protection between the capture points (load balancer, firewall DDoS profile) and make it pass window scale through, or turn it off for this service.",
	},
	"path-strips-option": {
		Evidence: pairEvidence + "the SYN or SYN-ACK " + handshakeCopies + ".",
		Advice:   "Find the device between the capture points that edits TCP options (iptables TCPOPTSTRIP, a firewall's TCP normalization, an IPS) and make it leave them alone; the capture that still has the option is on the sender's side of it.",
	},
	"path-rewrites-wscale": {
		Evidence: pairEvidence + "the handshake segment " + handshakeCopies + ".",
		Advice:   "Find the device between the capture points that rewrites the window scale option and stop it; until then the two ends disagree about every window.",
	},
	"path-enforces-unscaled-window": {
		Evidence: pairEvidence + "a data segment beyond the unscaled edge that never arrived, and the receiver's ACK with its raw window field.",
		Advice:   enforcerAdvice,
	},
	"path-rewrites-window": {
		Evidence: pairEvidence + "the first segment with a different window field in each capture.",
		Advice:   "Find the proxy or normalizer that rewrites windows, and check that it rewrites the window scale option to match.",
	},
	"path-drops-segments": {
		Evidence: pairEvidence + "the first segment seen in one capture only.",
		Advice:   "Look for loss between the capture points: interface errors and drops, a policer or shaper, a filter. Retransmissions recover it at the cost of throughput.",
	},
	"path-clamps-mss": {
		Evidence: pairEvidence + "the handshake segment " + handshakeCopies + ".",
		Advice:   "A lowered MSS is expected behind a VPN, PPPoE or tunnel gateway: check that it matches the path MTU. A raised one makes the peer send segments larger than the sender can take: find the device that raises it.",
	},
	"path-adds-option": {
		Evidence: pairEvidence + "the handshake segment " + handshakeCopies + ".",
		Advice:   "Find the device between the capture points that inserts options: its peer now acts on an option the sender never offered.",
	},
	"path-rewrites-timestamps": {
		Evidence: pairEvidence + "the same segment with two TSvals.",
		Advice:   "Usually a proxy or SYN-cookie device; RTTs measured at the far end are the device's, not the sender's.",
	},
	"path-rewrites-seq": {
		Evidence: pairEvidence + "the handshake segment " + handshakeCopies + ".",
		Advice:   "Harmless if the device also translates SACK blocks; if SACK recovery fails on this path, suspect it.",
	},
	"path-translates-addresses": {
		Evidence: pairEvidence + "the SYN, with the addresses and ports each capture shows.",
		Advice:   "None needed for windows; remember the translation when filtering captures at either end.",
	},
}
