package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestEveryRuleHasAGuide holds the guide to the catalog: rwin rules ID
// shows each rule's evidence and advice, so a rule added without them,
// or a guide left behind by a rule renamed, fails here.
func TestEveryRuleHasAGuide(t *testing.T) {
	ids := map[string]bool{}
	for _, r := range Catalog() {
		ids[r.ID] = true
		g := r.Guide()
		assert.NotEmpty(t, g.Evidence, "%s: no evidence in its guide", r.ID)
		assert.NotEmpty(t, g.Advice, "%s: no advice in its guide", r.ID)
	}
	for id := range guides {
		assert.True(t, ids[id], "guide for %q, which is not in the catalog", id)
	}
}
