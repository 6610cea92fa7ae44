package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// streamedIDs parses a --format json document and returns its flows' IDs.
func streamedIDs(t *testing.T, doc []byte) []uint64 {
	t.Helper()
	var run struct {
		Flows []struct {
			ID uint64 `json:"id"`
		} `json:"flows"`
	}
	require.NoError(t, json.Unmarshal(doc, &run), "%s", doc)
	var ids []uint64
	for _, f := range run.Flows {
		ids = append(ids, f.ID)
	}
	return ids
}

// record is flow id's record as encode leaves it, with pad bytes of
// padding.
func record(id uint64, pad int) *jsonRecord {
	r := &jsonRecord{id: id}
	fmt.Fprintf(&r.buf, `{"id":%d,"pad":"%s"}`, id, bytes.Repeat([]byte("x"), pad))
	r.out, r.indented = appendIndented(nil, r.buf.Bytes(), jsonFlowIndent), true
	return r
}

// TestJSONStreamIsTheSameWhateverTheIndentGuess: a record is indented by
// its encoder when it is likely to be written at once; a wrong guess
// either way changes nothing in the document.
func TestJSONStreamIsTheSameWhateverTheIndentGuess(t *testing.T) {
	order := []uint64{3, 1, 2, 6, 4, 5}
	doc := func(indented func(id uint64) bool) string {
		var out bytes.Buffer
		s := NewJSON(&out).(*jsonStream)
		for _, id := range order {
			r := record(id, 3)
			if !indented(id) {
				r.out, r.indented = nil, false
			}
			s.add(r)
		}
		s.EndInput(0, nil)
		require.NoError(t, s.Close(&Run{}))
		return out.String()
	}
	want := doc(func(uint64) bool { return true })
	assert.Equal(t, want, doc(func(uint64) bool { return false }))
	assert.Equal(t, want, doc(func(id uint64) bool { return id%2 == 0 }))
	assert.Equal(t, []uint64{1, 2, 3, 4, 5, 6}, streamedIDs(t, []byte(want)))
}

// TestJSONStreamWritesFlowsInIDOrderAsTheyFinish: a record is written as
// soon as every older flow's is; the rest wait.
func TestJSONStreamWritesFlowsInIDOrderAsTheyFinish(t *testing.T) {
	var out bytes.Buffer
	s := NewJSON(&out).(*jsonStream)
	for _, c := range []struct {
		finished     uint64
		writtenSoFar int
	}{{3, 0}, {1, 1}, {2, 3}, {5, 3}, {4, 5}} {
		s.add(record(c.finished, 1))
		assert.Equal(t, c.writtenSoFar, s.written, "after flow %d finished", c.finished)
	}
	s.EndInput(0, nil)
	s.add(record(2, 1)) // a second input: IDs from 1 again
	s.add(record(1, 1))
	s.EndInput(0, nil)
	require.NoError(t, s.Close(&Run{}))
	assert.Equal(t, []uint64{1, 2, 3, 4, 5, 1, 2}, streamedIDs(t, out.Bytes()))
}

// TestJSONStreamHoldsNoMoreThanItsBound: behind a flow that lasts the
// whole capture, the records that finish are held up to the bound, then
// written out of order; the document is complete and valid.
func TestJSONStreamHoldsNoMoreThanItsBound(t *testing.T) {
	var out bytes.Buffer
	s := NewJSON(&out).(*jsonStream)
	s.limit = 1000
	const flows = 500
	for id := uint64(2); id <= flows; id++ {
		s.add(record(id, 40))
		require.LessOrEqual(t, s.heldBytes, s.limit, "after flow %d", id)
	}
	s.add(record(1, 40)) // the long flow ends last
	s.EndInput(0, nil)
	require.NoError(t, s.Close(&Run{}))
	ids := streamedIDs(t, out.Bytes())
	require.Len(t, ids, flows)
	assert.ElementsMatch(t, ids, func() []uint64 {
		var all []uint64
		for id := uint64(1); id <= flows; id++ {
			all = append(all, id)
		}
		return all
	}())
	assert.Greater(t, slices.Index(ids, 1), flows/2, "the long flow comes when it ends, not first")
	assert.True(t, slices.IsSorted(ids[:slices.Index(ids, 1)]), "the others in ID order")
}

// TestIndentedIsJSONIndent: appendIndented writes what json.Indent does,
// for every fixture flow's record and for hostile strings.
func TestIndentedIsJSONIndent(t *testing.T) {
	var srcs [][]byte
	for _, f := range fixtureFlows(t) {
		r := f.Record()
		b, err := json.Marshal(&r)
		require.NoError(t, err)
		srcs = append(srcs, b)
	}
	srcs = append(srcs, []byte(`{"a":[],"b":{},"c":"x\"y\\\\","d":["[{,:}]",{"e":null}],"f":[1,2]}`), []byte(`[]`), []byte(`"s"`),
		[]byte(`{"\\":"\\\"","\\\\":["\"\\",""],"q":"\\\\\"}"}`))
	for _, src := range srcs {
		var want bytes.Buffer
		require.NoError(t, json.Indent(&want, src, "    ", "  "))
		assert.Equal(t, want.String(), string(appendIndented(nil, src, "    ")))
	}
}

// FuzzIndentedIsJSONIndent: for any string in keys and values (quotes,
// backslashes, brackets), appendIndented writes what json.Indent does.
func FuzzIndentedIsJSONIndent(f *testing.F) {
	for _, s := range []string{"", `"`, `\`, `\"`, `a\\"b`, "[{,:}]", "\x00\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src, err := json.Marshal(map[string]any{s: []any{s, map[string]string{"k": s}, []int{}, 1}, "z": s})
		require.NoError(t, err)
		var want bytes.Buffer
		require.NoError(t, json.Indent(&want, src, "    ", "  "))
		require.Equal(t, want.String(), string(appendIndented(nil, src, "    ")))
	})
}

// TestJSONCloseWritesWhatIsHeld: a document closed without ending its
// input (rwin live) still lists every flow.
func TestJSONCloseWritesWhatIsHeld(t *testing.T) {
	var out bytes.Buffer
	s := NewJSON(&out).(*jsonStream)
	s.add(record(3, 1))
	s.add(record(2, 1))
	require.NoError(t, s.Close(&Run{}))
	assert.Equal(t, []uint64{2, 3}, streamedIDs(t, out.Bytes()))
}

// TestJSONStreamIsTheSameWhicheverGoroutineEncodesFirst: the reader's
// workers hand flows out of their finishing order; past the reorder bound
// the document still depends on that order alone, so it is the same on
// any number of CPUs.
func TestJSONStreamIsTheSameWhicheverGoroutineEncodesFirst(t *testing.T) {
	var flows []Flow // the fixtures' flows, 8 times: more than jsonInFlight
	fixture := fixtureFlows(t)
	for range 8 {
		for _, f := range fixture {
			facts := *f.Facts
			f.Facts = &facts
			flows = append(flows, f)
		}
	}
	require.Greater(t, len(flows), jsonInFlight+128)
	// The flows finish in a shuffled ID order, the first one last (a
	// transfer that lasts the whole capture).
	rng := rand.New(rand.NewPCG(1, 2))
	ids := rng.Perm(len(flows) - 1)
	for i := range flows[:len(flows)-1] {
		flows[i].Facts.ID = uint64(ids[i] + 2)
	}
	flows[len(flows)-1].Facts.ID = 1
	document := func(deliver func(s *jsonStream)) []byte {
		var out bytes.Buffer
		s := NewJSON(&out).(*jsonStream)
		s.limit = 64 << 10 // a few dozen records
		deliver(s)
		s.EndInput(0, nil)
		require.NoError(t, s.Close(&Run{Inputs: []Input{{Flows: len(flows)}}}))
		return out.Bytes()
	}
	// batchesBackwards hands the flows in batches, each from its end.
	batchesBackwards := func(s *jsonStream, batches <-chan int, size int) {
		for start := range batches {
			for i := min(start+size, len(flows)) - 1; i >= start; i-- {
				s.FlowAt(0, uint64(i), &flows[i])
			}
		}
	}
	want := document(func(s *jsonStream) {
		for i := range flows {
			s.FlowAt(0, uint64(i), &flows[i])
		}
	})
	inOrder := streamedIDs(t, want)
	require.Len(t, inOrder, len(flows))
	require.False(t, slices.IsSorted(inOrder), "the bound was reached: some records came out of ID order")

	for _, c := range []struct {
		name       string
		goroutines int
		batch      int
	}{
		{"one goroutine, batches of 64 handed from their end", 1, 64},
		{"eight goroutines, batches of 16", 8, 16},
		{"eight goroutines, batches of 128: some wait their turn", 8, 128},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := document(func(s *jsonStream) {
				batches := make(chan int)
				var wg sync.WaitGroup
				for range c.goroutines {
					wg.Go(func() { batchesBackwards(s, batches, c.batch) })
				}
				for start := 0; start < len(flows); start += c.batch {
					batches <- start
				}
				close(batches)
				wg.Wait()
			})
			assert.Equal(t, string(want), string(got))
		})
	}
}

// BenchmarkAppendIndented indents the fixture flows' records, as
// --format json writes each.
func BenchmarkAppendIndented(b *testing.B) {
	var srcs [][]byte
	size := 0
	for _, f := range fixtureFlows(b) {
		r := f.Record()
		src, err := json.Marshal(&r)
		require.NoError(b, err)
		srcs = append(srcs, src)
		size += len(src)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		for _, src := range srcs {
			dst = appendIndented(dst[:0], src, "    ")
		}
	}
}

// swappedWriter stands for rwin live's -o file, which SIGHUP opens anew:
// it takes time to write, and says so when written while being swapped.
type swappedWriter struct {
	t        *testing.T
	out      [2]bytes.Buffer
	at       int
	swapping bool
}

func (w *swappedWriter) Write(p []byte) (int, error) {
	if w.swapping {
		w.t.Error("written while the file was being swapped")
	}
	time.Sleep(time.Millisecond)
	return w.out[w.at].Write(p)
}

// TestJSONSyncLetsTheFileBeSwapped: once Sync returns, the writer
// goroutine writes nothing until the next flow, so rwin live can swap the
// file under the document; the two files hold the whole document.
func TestJSONSyncLetsTheFileBeSwapped(t *testing.T) {
	w := &swappedWriter{t: t}
	s := NewJSON(w).(*jsonStream)
	const flows = 200 // 800 KB: bufio flushes a dozen times, 1 ms each
	for id := uint64(1); id <= flows; id++ {
		s.add(record(id, 4000))
	}
	s.Sync()
	w.swapping = true
	time.Sleep(20 * time.Millisecond)
	w.at, w.swapping = 1, false
	for id := uint64(flows + 1); id <= 2*flows; id++ {
		s.add(record(id, 4000))
	}
	s.EndInput(0, nil)
	require.NoError(t, s.Close(&Run{}))
	require.NotZero(t, w.out[0].Len())
	doc := append(w.out[0].Bytes(), w.out[1].Bytes()...)
	assert.Len(t, streamedIDs(t, doc), 2*flows)
}
