package rules

import (
	"flag"
	"os"
	"regexp"
	"testing"

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
			assert.NotNil(t, r.check)
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

func TestBytesAndDuration(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 65535: "64.0 KiB", 1 << 20: "1 MiB", 65535 << 14: "1.0 GiB"} {
		assert.Equal(t, want, Bytes(n), "%d", n)
	}
	assert.Equal(t, "500 µs", Duration(500_000))
	assert.Equal(t, "41.2 ms", Duration(41_200_000))
	assert.Equal(t, "3.1 s", Duration(3_100_000_000))
}
