package report

import (
	"net/netip"
	"sync"

	"rwin/analyze"
	"rwin/capture"
)

// The diff's charts need the time series of a few flows of each capture,
// and which flows only the finished diff says (its findings). So the
// report reads each capture once more, keeping only the packets of those
// flows: the series cost memory for the charted flows alone, whatever the
// captures hold, and the diff's own passes record none.

// flowKey finds a flow again in another read of its capture: its two
// endpoints and its first packet's number (packet numbers count every
// packet of the file, kept or not).
type flowKey struct {
	client, server netip.AddrPort
	first          uint64
}

func keyOfFlow(f *analyze.Flow) flowKey {
	return flowKey{client: f.Client.Addr, server: f.Server.Addr, first: f.FirstPacket}
}

// endpoints is an unordered pair of endpoints: a packet's either way.
type endpoints struct{ a, b netip.AddrPort }

func endpointsOf(x, y netip.AddrPort) endpoints {
	if x.Compare(y) > 0 {
		x, y = y, x
	}
	return endpoints{x, y}
}

// diffSeries reads each capture again and returns, per capture, the
// series of the flows asked for (those not recorded are missing: the
// budget ran out). Both captures are read at once.
func diffSeries(open [2]analyze.Opener, cfg analyze.Config, want [2][]*analyze.Flow) ([2]map[flowKey]*analyze.Series, error) {
	var out [2]map[flowKey]*analyze.Series
	var errs [2]error
	budget := analyze.NewSeriesBudget(HTMLSeriesBytes)
	var wg sync.WaitGroup
	for i := range 2 {
		out[i] = map[flowKey]*analyze.Series{}
		if len(want[i]) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = seriesOf(open[i], cfg, budget, want[i])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// seriesOf records the series of the given flows of one capture.
func seriesOf(open analyze.Opener, cfg analyze.Config, budget *analyze.SeriesBudget, want []*analyze.Flow) (map[flowKey]*analyze.Series, error) {
	src, err := open()
	if err != nil {
		return nil, err
	}
	defer src.Close()
	wanted := map[flowKey]bool{}
	conns := map[endpoints]bool{}
	for _, f := range want {
		wanted[keyOfFlow(f)] = true
		conns[endpointsOf(f.Client.Addr, f.Server.Addr)] = true
	}
	// The filter decodes each packet a first time to find its endpoints;
	// only the wanted connections' packets reach the analyzer.
	var dec capture.Decoder
	var seg capture.Segment
	keep := func(p *capture.Packet) bool {
		if dec.Decode(p, &seg) != capture.VerdictTCP {
			return false
		}
		return conns[endpointsOf(seg.SrcEndpoint(), seg.DstEndpoint())]
	}
	rec := analyze.NewSeriesRecorder(budget)
	cfg.Series = rec
	got := map[flowKey]*analyze.Series{}
	analyze.Run(src, keep, cfg, func(f *analyze.Flow) {
		s := rec.Take(f.ID)
		if k := keyOfFlow(f); wanted[k] && s != nil {
			got[k] = s
			return
		}
		budget.Free(s)
	})
	return got, nil
}
