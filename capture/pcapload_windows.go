package capture

import (
	"fmt"

	"github.com/gopacket/gopacket/pcap"
)

// loadPcap loads Npcap's wpcap.dll (from System32\Npcap, where Npcap
// installs it without WinPcap-compatible mode, or from System32 with it)
// or says in one line how to get it.
func loadPcap() error {
	if err := pcap.LoadWinPCAP(); err != nil {
		return fmt.Errorf("%w: Npcap is not installed (%s): install it from https://npcap.com (WinPcap API-compatible mode is not needed)", ErrNoPcap, err)
	}
	return nil
}
