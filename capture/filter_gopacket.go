//go:build cgo || windows

package capture

import (
	"fmt"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcap"
)

// bpfProgram is a compiled filter; gopacket frees it when it is collected.
type bpfProgram struct{ bpf *pcap.BPF }

// compileSavefile compiles expr on a handle reading the savefile at path.
// The caller holds compileMu.
func compileSavefile(path, expr string) (*bpfProgram, error) {
	h, err := pcap.OpenOffline(path)
	if err != nil {
		return nil, fmt.Errorf("%s", oneLine(err.Error()))
	}
	defer h.Close()
	bpf, err := h.NewBPF(expr)
	if err != nil {
		return nil, fmt.Errorf("%s", oneLine(err.Error()))
	}
	return &bpfProgram{bpf: bpf}, nil
}

// matches runs the program over data, a frame of wireLen bytes on the
// wire. The fork's Matches takes an empty slice where google/gopacket
// v1.1.19's indexed data[0] and panicked.
func (b *bpfProgram) matches(data []byte, wireLen int) bool {
	return b.bpf.Matches(gopacket.CaptureInfo{CaptureLength: len(data), Length: wireLen}, data)
}
