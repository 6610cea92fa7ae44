package analyze

import (
	"testing"

	"rwin/fixtures"
)

// labScenarios lists the lab recordings with a capture from each end.
func labScenarios(t *testing.T) []string { return fixtures.LabScenarios(t) }
