package analyze

import (
	"time"

	"rwin/capture"
)

// Captures record some segments twice: pktmon records a packet at every
// component it passes (NIC, filter, TCP/IP), a SPAN session that mirrors
// both the ingress and the egress port copies each frame, and a capture
// merged with an overlapping one (mergecap) holds both recordings. Such a
// copy is not a retransmission: counted as one it would inflate the loss
// rate, end RTT timing (Karn's rule) and shrink throughput. A copy is
// recognised by headers identical to a segment of the same flow and
// direction moments before: IP ID, sequence and acknowledgment numbers,
// flags, length, window and TCP checksum (which covers the payload). A
// sender's own retransmission differs in the IP ID (Windows and Linux
// number every IPv4 packet they send) or, failing that, comes at least a
// round trip after the original: the loss has to be reported first, or a
// timer to run out.

// recentSlots is the number of segment fingerprints remembered: copies
// follow their original within a few packets, even on a busy link. They
// are split into flowPartitions equal parts, a flow's segments taking
// slots in its partition's only: a sharded analyzer (see shardedRun)
// gives each shard whole partitions, so that which segments collide, and
// so which copies are found, is the same however many shards there are.
// 4,096 slots of 16 bytes (64 KiB) stay in a core's nearer caches,
// where every segment looks one up; a partition's 256 take a sixteenth of
// the traffic, so segments of different flows overwrite each other as
// often as in one table of 4,096, and one busy flow still has 256 slots
// for copies that follow their original within a few segments.
const recentSlots = 256 * flowPartitions

// flowPartitions is the number of parts the fingerprint table is split
// into, and so the most shards an analyzer can run on.
const flowPartitions = 1 << partitionBits

const partitionBits = 4

// maxCopyGap is how long after a segment an identical one counts as a
// copy, when the flow's round trip does not set a shorter limit: pktmon's
// and a SPAN port's copies come microseconds apart, a capture merged with
// itself gives them the same timestamp.
const maxCopyGap = 10 * time.Millisecond

// maxCopyGapByID is maxCopyGap for an IPv4 packet with a non-zero IP ID,
// which the sender numbered: the same number on the same segment is the
// same packet, recorded twice, however late the copy was written (two
// recordings merged with clocks apart). IP ID 0 is what Linux puts on its
// SYN-ACKs and some stacks on every packet with DF set: there only the
// time tells a copy from a retransmission.
const maxCopyGapByID = time.Second

// recentSegments remembers the fingerprints of the latest segments, in a
// direct-mapped table: a collision forgets the older segment, so a copy
// may be missed, never invented (the fingerprint is 64 bits). Fixed size,
// no allocation per packet.
type recentSegments [recentSlots]recentSlot

type recentSlot struct {
	print uint64
	time  int64
}

// segmentPrint fingerprints seg's headers. The slot a segment takes is
// chosen from its headers and its flow's partition alone, and the flow's
// hash h (seeded at random per Analyzer) only enters the fingerprint
// compared within the slot: which segments collide, and so which copies
// are found, is then the same on every run over the same capture.
func segmentPrint(seg *capture.Segment, h uint64, partition int) (slot int, print uint64) {
	a := uint64(seg.Seq)<<32 | uint64(seg.Ack)
	b := uint64(seg.IPID)<<48 | uint64(seg.Checksum)<<32 | uint64(seg.Window)<<16 | uint64(seg.Flags)
	c := uint64(uint32(seg.Payload)) | uint64(seg.SrcPort)<<32 | uint64(seg.DstPort)<<48
	q := mix(mix(a, b), c)
	const perPartition = recentSlots / flowPartitions
	return partition*perPartition + int(q&(perPartition-1)), mix(q, h)
}

// flowPartition is the partition of seg's flow, the same both ways and on
// every run: unlike flowHash it takes no seed, since it decides which
// fingerprints may collide (see recentSlots). A crafted capture could put
// every flow in one partition; it would only cost copies missed, and a
// sharded analyzer its parallelism.
func flowPartition(seg *capture.Segment) int {
	_, s := addrWords(seg.Src)
	_, d := addrWords(seg.Dst)
	x := (s + d) ^ (uint64(seg.SrcPort)+uint64(seg.DstPort))<<32
	return int(mix(x, 0) >> (64 - partitionBits))
}

// copyOf reports whether seg, of flow fs (nil for a new flow) with hash
// h, repeats a segment seen moments before; otherwise it remembers seg.
func (r *recentSegments) copyOf(seg *capture.Segment, h uint64, fs *flowState) bool {
	// A flow's partition was taken when it began; only a segment without
	// a flow yet hashes its addresses here.
	var part int
	if fs != nil {
		part = int(fs.partition)
	} else {
		part = flowPartition(seg)
	}
	i, p := segmentPrint(seg, h, part)
	s := &r[i]
	if fs != nil && s.print == p {
		gap := time.Duration(seg.Time - s.time)
		if gap < 0 {
			gap = -gap // merged captures are not strictly in order
		}
		if gap <= fs.copyGap(seg) {
			return true
		}
	}
	s.print, s.time = p, seg.Time
	return false
}

// copyGap is how far apart an identical segment may come and still be a
// copy: maxCopyGapByID for a numbered IPv4 packet; else maxCopyGap, or
// half the flow's round trip through the capture point if that is
// shorter, since no retransmission can follow its original sooner than a
// round trip.
func (fs *flowState) copyGap(seg *capture.Segment) time.Duration {
	if !seg.IPv6 && seg.IPID != 0 {
		return maxCopyGapByID
	}
	if rtt := fs.PathRTT(); rtt > 0 && rtt/2 < maxCopyGap {
		return rtt / 2
	}
	return maxCopyGap
}
