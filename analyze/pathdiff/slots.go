package pathdiff

import "rwin/analyze"

// flowSlots keeps a T for each flow in progress of one flow table, found
// through the flow's Observed word (see analyze.Observer) rather than a
// lookup by ID; a finished flow's slot serves a later flow, so there are
// as many as the flows in progress at their most.
type flowSlots[T any] struct {
	v    []T
	free []uint32 // slots released, for reuse
}

// of returns f's slot, taking one at f's first call: fresh says so, and
// the slot then holds what its last flow left (or T's zero value).
func (s *flowSlots[T]) of(f *analyze.Flow) (v *T, fresh bool) {
	if f.Observed == 0 {
		if n := len(s.free); n > 0 {
			f.Observed, s.free = s.free[n-1]+1, s.free[:n-1]
		} else {
			s.v = append(s.v, *new(T))
			f.Observed = uint32(len(s.v))
		}
		fresh = true
	}
	return &s.v[f.Observed-1], fresh
}

// release gives f's slot, if it took one, back for reuse.
func (s *flowSlots[T]) release(f *analyze.Flow) {
	if f.Observed != 0 {
		s.free = append(s.free, f.Observed-1)
	}
}
