// Package capturetest writes capture files for tests of the packages that
// read them.
package capturetest

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"rwin/capture"
)

// Pcapng rewrites the capture at path as a little-endian pcapng file in a
// temporary directory of t. Its packets are Simple Packet Blocks, which
// carry no timestamp, where untimed says so (by 1-based packet number),
// and Enhanced Packet Blocks with nanosecond timestamps otherwise. It
// returns the new file and every packet's original timestamp, by packet
// number (index 0 unused).
func Pcapng(t testing.TB, path string, untimed func(n int) bool) (string, []int64) {
	t.Helper()
	src, err := capture.Open(path)
	if err != nil {
		t.Fatalf("capturetest: %v", err)
	}
	defer src.Close()
	le := binary.LittleEndian
	var out []byte
	block := func(typ uint32, body []byte) {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		n := uint32(12 + len(body))
		out = le.AppendUint32(le.AppendUint32(out, typ), n)
		out = le.AppendUint32(append(out, body...), n)
	}
	shb := le.AppendUint64(le.AppendUint32(le.AppendUint32(nil, 0x1A2B3C4D), 1), ^uint64(0)) // version 1.0, length unknown
	block(0x0A0D0D0A, shb)
	times := []int64{0}
	var pkt capture.Packet
	for n := 1; ; n++ {
		err := src.Next(&pkt)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("capturetest: %s: %v", path, err)
		}
		if n == 1 {
			// Interface 0 at if_tsresol 9 (nanoseconds).
			idb := le.AppendUint32(le.AppendUint32(nil, uint32(pkt.Link)), 0)
			idb = append(le.AppendUint16(le.AppendUint16(idb, 9), 1), 9, 0, 0, 0)
			block(1, le.AppendUint32(idb, 0))
		}
		times = append(times, pkt.Time)
		if untimed(n) {
			block(3, append(le.AppendUint32(nil, uint32(pkt.OrigLen)), pkt.Data...))
			continue
		}
		epb := le.AppendUint32(nil, 0)
		epb = le.AppendUint32(le.AppendUint32(epb, uint32(uint64(pkt.Time)>>32)), uint32(pkt.Time))
		epb = le.AppendUint32(le.AppendUint32(epb, uint32(len(pkt.Data))), uint32(pkt.OrigLen))
		block(6, append(epb, pkt.Data...))
	}
	name := filepath.Join(t.TempDir(), "spb.pcapng")
	if err := os.WriteFile(name, out, 0o600); err != nil {
		t.Fatalf("capturetest: %v", err)
	}
	return name, times
}
