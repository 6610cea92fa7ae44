package pathdiff

import (
	"bytes"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"rwin/analyze"
	"rwin/capture"
)

// FuzzDiff feeds two arbitrary captures to Diff: whatever the bytes, it
// must not panic, and every pair must point at flows it reports. The
// seeds are a synthetic pair through a NAT that offsets sequence numbers
// and loses a segment, a capture diffed with itself, and a cut one. They
// are kept to a few kilobytes: the fuzzer minimizes every input that
// finds new code, one byte at a time, and on the 80 KB seeds this once
// had it spent minutes per input (43 executions in 3 minutes).
func FuzzDiff(f *testing.F) {
	// The diff runs on four goroutines that hand batches to each other:
	// with one thread per fuzzing worker process (one worker per core)
	// they do so without waking other threads, measured at 3,700-3,850
	// executions a second against 2,850-3,000 (make fuzz, two workers on
	// two cores; it caps minimization at 100 runs, for minimizing an
	// 8 KB input for up to the default minute shows as 0 a second).
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	c := baseConn()
	c.request, c.response = 40, 3000
	p := basePath()
	p.nat, p.seqOffset, p.lose = netip.MustParseAddrPort("203.0.113.7:61001"), 99, map[int]bool{2: true}
	a, b := writeSynth(f, f.TempDir(), []synthConn{c}, []synthPath{p})
	da, err := os.ReadFile(a)
	if err != nil {
		f.Fatal(err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(da, db)
	f.Add(da, da)
	f.Add(db[:len(db)/2], da)
	f.Fuzz(func(t *testing.T, x, y []byte) {
		if len(x)+len(y) > 64<<10 {
			return // larger inputs find nothing more, slowly
		}
		opener := func(b []byte, name string) analyze.Opener {
			return func() (capture.Source, error) { return capture.NewReader(bytes.NewReader(b), name) }
		}
		res, err := Diff([2]analyze.Opener{opener(x, "a"), opener(y, "b")}, analyze.Config{})
		if err != nil {
			return
		}
		for _, p := range res.Pairs {
			if p.A >= len(res.Sides[0].Flows) || p.B >= len(res.Sides[1].Flows) {
				t.Errorf("pair %+v points past the flows", p)
			}
		}
	})
}
