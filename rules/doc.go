package rules

import (
	"fmt"
	"strings"
)

// Markdown renders the catalog as the document rules/CATALOG.md, which a
// test keeps equal to this output so the two cannot drift.
func Markdown() string {
	var b strings.Builder
	b.WriteString("# rwin finding catalog\n\n")
	b.WriteString("Generated from the rules package by `rwin rules --format markdown`; do not edit by hand " +
		"(`go test ./rules -update` regenerates it).\n\n")
	b.WriteString("| ID | Severity | Name |\n|---|---|---|\n")
	for _, r := range catalog {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", r.ID, r.ID, r.Severity, r.Name)
	}
	for _, r := range catalog {
		fmt.Fprintf(&b, "\n## %s\n\n**%s** — at most %s.\n\n%s\n", r.ID, r.Name, r.Severity, r.Doc)
	}
	return b.String()
}
