package analyze

import (
	"bytes"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
	"rwin/fixtures"
	"rwin/fixtures/bench/traffic"
)

// runResult is everything a run hands out: the flows in the order they
// were emitted, and the summary.
type runResult struct {
	flows []Flow
	sum   Summary
}

// runOn runs the analyzer over a capture with the given number of shards
// (0: one table).
func runOn(t testing.TB, open func() capture.Source, cfg Config, shards int) runResult {
	t.Helper()
	var r runResult
	src := open()
	defer src.Close()
	r.sum = run(src, nil, cfg, func(f *Flow) { r.flows = append(r.flows, *f) }, shards)
	return r
}

// requireSameRun checks that a sharded run gave exactly the single
// table's flows, in its order, and its summary.
func requireSameRun(t *testing.T, want, got runResult, what string) {
	t.Helper()
	require.Equal(t, len(want.flows), len(got.flows), "%s: flows", what)
	for i := range want.flows {
		require.Equal(t, want.flows[i], got.flows[i], "%s: flow %d emitted", what, i)
	}
	assert.Equal(t, want.sum, got.sum, "%s: summary", what)
}

// shardConfigs are the table's bounds the sharded runs are checked under:
// the defaults; a cap that evicts; a short linger that sweeps often; both.
var shardConfigs = []struct {
	name string
	cfg  Config
}{
	{"defaults", Config{}},
	{"max-flows 3", Config{MaxFlows: 3}},
	{"linger 50ms", Config{Linger: 50 * time.Millisecond}},
	{"max-flows 40, linger 200ms", Config{MaxFlows: 40, Linger: 200 * time.Millisecond}},
	{"no linger, max-flows 10", Config{MaxFlows: 10, Linger: -1}},
}

// TestShardedRunMatchesOneTableOnEveryFixture runs every capture of the
// lab, the generator and the corpus on one table and on 2, 3 and 16
// shards: the same flows (numbers, evictions, copies) in the same order,
// and the same summary.
func TestShardedRunMatchesOneTableOnEveryFixture(t *testing.T) {
	var files []string
	for _, dir := range []string{filepath.Join(fixtures.Dir(), "captures"), fixtures.CorpusDir(t)} {
		require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && isCaptureName(path) {
				files = append(files, path)
			}
			return err
		}))
	}
	require.Greater(t, len(files), 50, "the fixtures and the corpus hold captures")
	for _, path := range files {
		if src, err := capture.Open(path); err != nil {
			continue // a capture that cannot be opened is analyzed by neither
		} else {
			src.Close()
		}
		name, _ := filepath.Rel(fixtures.Root(), path)
		t.Run(name, func(t *testing.T) {
			open := func() capture.Source {
				src, err := capture.Open(path)
				require.NoError(t, err)
				return src
			}
			for _, c := range shardConfigs {
				want := runOn(t, open, c.cfg, 0)
				for _, n := range []int{2, 3, flowPartitions} {
					requireSameRun(t, want, runOn(t, open, c.cfg, n), c.name)
				}
			}
		})
	}
}

func isCaptureName(path string) bool {
	base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".gz"), ".zst")
	for _, ext := range []string{".pcap", ".pcapng", ".cap"} {
		if strings.HasSuffix(base, ext) {
			return true
		}
	}
	return false
}

// generated writes a capture of the benchmark's traffic to memory.
func generated(t testing.TB, cfg traffic.Config) func() capture.Source {
	t.Helper()
	var buf bytes.Buffer
	_, err := traffic.Write(&buf, cfg)
	require.NoError(t, err)
	return func() capture.Source {
		src, err := capture.NewReader(bytes.NewReader(buf.Bytes()), "generated")
		require.NoError(t, err)
		return src
	}
}

// TestShardedRunMatchesOneTableWithEvictions runs generated captures of
// many flows, a SYN flood among them, under caps that evict thousands of
// flows (the shards then hand batches to the merge, which evicts across
// them) and caps just above the peak (the shards run freely until the
// reader's bound comes near).
func TestShardedRunMatchesOneTableWithEvictions(t *testing.T) {
	mix := traffic.Bench()
	mix.Packets = 150_000
	flood := traffic.Flood(20_000)
	for _, c := range []struct {
		name string
		cap  traffic.Config
		cfgs []Config
	}{
		{"linux mix", mix, []Config{{}, {MaxFlows: 50}, {MaxFlows: 300}, {MaxFlows: 2_000, Linger: time.Second}}},
		{"syn flood", flood, []Config{{}, {MaxFlows: 1_000}, {MaxFlows: 15_000}}},
	} {
		open := generated(t, c.cap)
		for _, cfg := range c.cfgs {
			want := runOn(t, open, cfg, 0)
			if cfg.MaxFlows > 0 && cfg.MaxFlows < 1_000 {
				require.NotZero(t, want.sum.Analyzer.Evicted, "%s, max-flows %d evicts", c.name, cfg.MaxFlows)
			}
			for _, n := range []int{2, 5} {
				requireSameRun(t, want, runOn(t, open, cfg, n), c.name)
			}
		}
	}
}

// TestShardedRunDoesNotAllocate: the allocations of a run (batches,
// tables, each flow's state, the events' slices as they grow) must not
// grow with the packets: the transfers run twice as long, in steady
// state, on shards and on the one table behind its reader (which Run
// takes with series). As for TestRunSteadyStateDoesNotAllocate, each
// length counts its fewest of three runs, the runtime's own allocations
// being noise that only adds.
func TestShardedRunDoesNotAllocate(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // the reader on a goroutine of its own
	}
	for _, shards := range []int{2, 0} {
		t.Run(fmt.Sprintf("%d shards", shards), func(t *testing.T) {
			mallocs := func(packets int) uint64 {
				open := generated(t, traffic.Config{Seed: 3, Packets: packets, Bulk: 4, IPv6Share: 0.5})
				runOn(t, open, Config{}, shards)
				fewest := ^uint64(0)
				for range 3 {
					src := open()
					var before, after runtime.MemStats
					runtime.ReadMemStats(&before)
					sum := run(src, nil, Config{}, func(*Flow) {}, shards)
					runtime.ReadMemStats(&after)
					require.Equal(t, uint64(packets), sum.TCP)
					fewest = min(fewest, after.Mallocs-before.Mallocs)
				}
				return fewest
			}
			short, long := mallocs(20_000), mallocs(40_000)
			assert.LessOrEqual(t, long, short+4, "%d allocations over 20,000 packets and %d over 40,000", short, long)
		})
	}
}

// TestShardCount: one or two CPUs, series, observers and idle timeouts run
// one table.
func TestShardCount(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	assert.Equal(t, 4, shardCount(Config{}))
	assert.Zero(t, shardCount(Config{Series: NewSeriesRecorder(NewSeriesBudget(1 << 20))}), "series are recorded by one table")
	assert.Zero(t, shardCount(Config{IdleTimeout: time.Minute}), "idle timeouts run one table")
	assert.Zero(t, shardCount(Config{Observer: observerFunc(nil)}), "an observer sees segments on one goroutine, in order")
	assert.Equal(t, 3, shardCount(Config{CPUs: 3}), "a share of the CPUs")
	assert.Zero(t, shardCount(Config{CPUs: 2}), "two CPUs run the pipeline")
	runtime.GOMAXPROCS(2)
	assert.Zero(t, shardCount(Config{}), "two CPUs run the pipeline")
	runtime.GOMAXPROCS(1)
	assert.Zero(t, shardCount(Config{}))
	runtime.GOMAXPROCS(64)
	assert.Equal(t, flowPartitions, shardCount(Config{}), "no more shards than partitions")
}

// BenchmarkShardedRun times one capture of the benchmark's traffic (a
// million packets, in memory) on one table behind its reader (shards 0)
// and on shards; cpu-ns/packet is the process's user and system time,
// which a machine shared with other work inflates less than the wall time.
func BenchmarkShardedRun(b *testing.B) {
	cfg := traffic.Bench()
	cfg.Packets = 1_000_000
	open := generated(b, cfg)
	for _, shards := range []int{0, 2, 3} {
		b.Run(fmt.Sprintf("shards %d", shards), func(b *testing.B) {
			b.ReportAllocs()
			var packets uint64
			cpu0 := cpuTime()
			for b.Loop() {
				src := open()
				packets += run(src, nil, Config{}, func(*Flow) {}, shards).Packets
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(packets), "ns/packet")
			if cpu0 >= 0 {
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(packets), "cpu-ns/packet")
			}
		})
	}
}

// TestPushedBefore: the shards' list tails are compared by when they were
// moved there, and at the same clock by the segment that moved them,
// across the 32-bit wrap of its index.
func TestPushedBefore(t *testing.T) {
	for _, c := range []struct {
		name           string
		xMoved, yMoved int64
		xSeg, ySeg     uint32
		want           bool
	}{
		{"moved earlier", 100, 200, 9, 5, true},
		{"moved later", 300, 200, 1, 5, false},
		{"same clock, earlier segment", 200, 200, 4, 5, true},
		{"same clock, later segment", 200, 200, 6, 5, false},
		{"same clock, segment index wrapped", 200, 200, 0xffff_fff0, 3, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := &flowState{moved: c.xMoved, series: c.xSeg}
			y := &flowState{moved: c.yMoved, series: c.ySeg}
			assert.Equal(t, c.want, pushedBefore(x, y))
		})
	}
}

// observerFunc adapts a function to Observer.
type observerFunc func(flow uint64, seg *capture.Segment)

func (f observerFunc) Segment(flow *Flow, seg *capture.Segment) { f(flow.ID, seg) }
