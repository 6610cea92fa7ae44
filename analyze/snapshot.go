package analyze

import "slices"

// Snapshot calls fn with every flow still in the table (flows carrying
// data first, then closed and data-less ones, each most recently active
// first), as it would be reported if it ended now: handshake state,
// negotiation and shifts are derived as when the flow is finished. The
// table is not changed — each flow is derived on a copy — so a running
// capture can be summarized as often as wanted. The *Flow is valid only
// during the call.
func (a *Analyzer) Snapshot(fn func(*Flow)) {
	var (
		view  flowState
		flows []*flowState
	)
	for _, l := range []*flowList{&a.open, &a.transient, &a.ended} {
		// A list is in the order of the flows' last moves (see
		// touchSlack), their last packets nearly so.
		flows = flows[:0]
		for fs := l.head; fs != nil; fs = fs.next {
			flows = append(flows, fs)
		}
		slices.SortFunc(flows, func(x, y *flowState) int { return byLastPacket(y, x) })
		for _, fs := range flows {
			// finalize writes only to the flowState's own fields (the
			// window histograms, shared with the copy, are only read),
			// so a copy keeps the live state as it was.
			view = *fs
			view.list, view.prev, view.next = onNone, nil, nil
			view.finalize()
			fn(&view.Flow)
		}
	}
}
