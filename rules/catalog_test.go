package rules

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite CATALOG.md from the catalog")

// TestCatalogDocIsGenerated keeps rules/CATALOG.md equal to the catalog in
// the code, so the documentation cannot drift.
func TestCatalogDocIsGenerated(t *testing.T) {
	got := Markdown()
	if *update {
		require.NoError(t, os.WriteFile("CATALOG.md", []byte(got), 0o644))
	}
	want, err := os.ReadFile("CATALOG.md")
	require.NoError(t, err)
	assert.Equal(t, string(want), got, "CATALOG.md is stale: go test ./rules -update")
}

func TestCatalogEntries(t *testing.T) {
	kebab := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[string]bool{}
	for _, r := range Catalog() {
		t.Run(r.ID, func(t *testing.T) {
			assert.Regexp(t, kebab, r.ID)
			assert.False(t, seen[r.ID], "duplicate ID")
			seen[r.ID] = true
			assert.NotEmpty(t, r.Name)
			assert.NotEmpty(t, r.Doc)
			isPairRule := slices.ContainsFunc(diffRules, func(d struct {
				rule  *Rule
				check diffCheck
			}) bool {
				return d.rule == r
			})
			assert.Equal(t, !isPairRule, r.check != nil, "a flow rule judges flows, a pair rule pairs only")
			assert.Same(t, r, Lookup(r.ID))
		})
	}
	assert.Nil(t, Lookup("no-such-rule"))
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]Severity{"info": Info, "WARN": Warn, "warning": Warn, "error": Error} {
		got, err := ParseSeverity(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := ParseSeverity("fatal")
	assert.ErrorContains(t, err, `unknown severity "fatal"`)
}

func TestSeverityCounts(t *testing.T) {
	var c, other SeverityCounts
	c.Add([]Finding{{Severity: Error}, {Severity: Info}, {Severity: Info}})
	other.Add([]Finding{{Severity: Warn}, {Severity: Info}})
	c.Merge(&other)
	assert.Equal(t, SeverityCounts{Info: 3, Warn: 1, Error: 1}, c)
	assert.Equal(t, map[string]int{"info": 3, "warn": 1, "error": 1}, c.ByName())
	var none SeverityCounts
	assert.Equal(t, map[string]int{"info": 0, "warn": 0, "error": 0}, none.ByName(), "every severity, also without findings")
}

func TestBytesAndDuration(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 65535: "64.0 KiB", 1 << 20: "1 MiB", 65535 << 14: "1.0 GiB"} {
		assert.Equal(t, want, Bytes(n), "%d", n)
	}
	assert.Equal(t, "500 µs", Duration(500_000))
	assert.Equal(t, "41.2 ms", Duration(41_200_000))
	assert.Equal(t, "3.1 s", Duration(3_100_000_000))
}

// TestRenderingsMatchFmt holds the appending renderings to the fmt verbs
// they stand for ("%d %s", "%.1f %s", "%.0f %s"), over values around every
// unit boundary and rounding edge.
func TestRenderingsMatchFmt(t *testing.T) {
	bytesFmt := func(n uint64) string {
		if n < 1024 {
			return fmt.Sprintf("%d B", n)
		}
		v, u := float64(n), 0
		for v >= 1024-0.05 && u < 4 {
			v /= 1024
			u++
		}
		suffix := [...]string{"B", "KiB", "MiB", "GiB", "TiB"}[u]
		if v == float64(int64(v)) {
			return fmt.Sprintf("%d %s", int64(v), suffix)
		}
		return fmt.Sprintf("%.1f %s", v, suffix)
	}
	rateFmt := func(bps float64) string {
		units := []string{"bit/s", "kbit/s", "Mbit/s", "Gbit/s"}
		u := 0
		for bps >= 1000 && u < len(units)-1 {
			bps /= 1000
			u++
		}
		if bps >= 100 || u == 0 {
			return fmt.Sprintf("%.0f %s", bps, units[u])
		}
		return fmt.Sprintf("%.1f %s", bps, units[u])
	}
	durFmt := func(ns int64) string {
		d := time.Duration(ns)
		switch {
		case d < time.Millisecond:
			return fmt.Sprintf("%d µs", d.Microseconds())
		case d < time.Second:
			return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
		}
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for e := range 63 {
		for _, n := range []uint64{1 << e, 1<<e - 1, 1<<e + 1, 1<<e + 1<<e/20, rng.Uint64N(1<<(e+1)) + 1} {
			assert.Equal(t, bytesFmt(n), Bytes(n), "%d", n)
			ns := int64(n >> 1)
			assert.Equal(t, durFmt(ns), Duration(time.Duration(ns)), "%d ns", ns)
			for _, bps := range []float64{float64(n), float64(n) / 7, float64(n) * 0.9995, float64(n) + 0.5} {
				assert.Equal(t, rateFmt(bps), Rate(bps), "%v bit/s", bps)
			}
		}
	}
}
