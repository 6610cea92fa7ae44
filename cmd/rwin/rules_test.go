package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/rules"
)

// TestRulesListsEachRuleWithItsDescription checks that rwin rules shows
// every rule of the catalog with the first sentence of what it detects.
func TestRulesListsEachRuleWithItsDescription(t *testing.T) {
	code, out, stderr := rwinRun(t, nil, "rules")
	require.Equal(t, exitOK, code, stderr)
	lines := strings.Split(out, "\n")
	for _, r := range rules.Catalog() {
		i := indexOfPrefix(lines, r.ID+" ")
		require.GreaterOrEqual(t, i, 0, "%s not listed", r.ID)
		assert.Regexp(t, `^`+r.ID+` +`+r.Severity.String()+` +`+regexp.QuoteMeta(r.Name)+`$`, lines[i])
		assert.Equal(t, firstSentence(r.Doc), strings.TrimSpace(lines[i+1]), "%s: its description under it", r.ID)
	}
	assert.Contains(t, out, "\nrwin rules ID shows one rule in full.\n")
}

// TestRulesShowsOneRuleInFull checks rwin rules ID for every rule: its
// name, severity, description, evidence and advice, in that order.
func TestRulesShowsOneRuleInFull(t *testing.T) {
	for _, r := range rules.Catalog() {
		t.Run(r.ID, func(t *testing.T) {
			code, out, stderr := rwinRun(t, nil, "rules", r.ID)
			require.Equal(t, exitOK, code, stderr)
			g := r.Guide()
			sections := strings.Split(out, "\n\n")
			require.Len(t, sections, 4, out)
			assert.Equal(t, r.ID+": "+r.Name+"\nseverity: at most "+r.Severity.String(), sections[0])
			assert.Equal(t, r.Doc, strings.Join(strings.Fields(sections[1]), " "))
			assert.Equal(t, "evidence: "+g.Evidence, strings.Join(strings.Fields(sections[2]), " "))
			assert.Equal(t, "advice: "+g.Advice, strings.Join(strings.Fields(sections[3]), " "))
			for _, line := range strings.Split(out, "\n") {
				assert.LessOrEqual(t, len([]rune(line)), 80, "lines fit a terminal: %q", line)
			}

			code, out, stderr = rwinRun(t, nil, "rules", "--format", "json", r.ID)
			require.Equal(t, exitOK, code, stderr)
			var doc []map[string]string
			require.NoError(t, json.Unmarshal([]byte(out), &doc))
			require.Len(t, doc, 1)
			assert.Equal(t, map[string]string{"id": r.ID, "name": r.Name, "severity": r.Severity.String(),
				"doc": r.Doc, "evidence": g.Evidence, "advice": g.Advice}, doc[0])
		})
	}
}

func TestFirstSentenceAndWrap(t *testing.T) {
	tests := []struct {
		name, in, first string
	}{
		{"stops at a full stop before a capital", "One side offered it (RFC 7323 §2). The other did not.", "One side offered it (RFC 7323 §2)."},
		{"keeps a section number", "Shift above 14 (RFC 7323 §2.3) is capped. Then more.", "Shift above 14 (RFC 7323 §2.3) is capped."},
		{"keeps an abbreviation before lower case", "Devices, e.g. firewalls, strip it. More.", "Devices, e.g. firewalls, strip it."},
		{"one sentence", "Nothing answered", "Nothing answered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.first, firstSentence(tc.in))
		})
	}
	assert.Equal(t, "  a bb\n  ccc\n  dddddddd", wrapText("a bb ccc dddddddd", 5, "  "), "a word longer than the width stands alone")
	assert.Equal(t, "", wrapText("", 5, "  "))
}

func indexOfPrefix(lines []string, prefix string) int {
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}
