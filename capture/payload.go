package capture

// CapturedPayload returns the payload bytes of s that the capture kept:
// data must be the Data of the packet s was decoded from. It is shorter
// than s.Payload, or empty, when the snaplen cut the payload (a
// headers-only capture keeps none of it), and never includes link-layer
// padding: the IP length fields bound it. The slice aliases data.
func (s *Segment) CapturedPayload(data []byte) []byte {
	if s.Payload <= 0 || s.PayloadOffset < 0 || s.PayloadOffset >= len(data) {
		return nil
	}
	return data[s.PayloadOffset:min(len(data), s.PayloadOffset+s.Payload)]
}
