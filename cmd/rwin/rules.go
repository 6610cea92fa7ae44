package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"rwin/rules"
)

// cmdRules lists the finding catalog, so users and policies can see every
// ID rwin may report; with an ID it explains that one rule.
func cmdRules(args []string, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet("rules", flag.ContinueOnError)
	format := fs.String("format", "text", "output `format`: text, json or markdown")
	pos, err := parseArgs(fs, args, stdout)
	if err != nil {
		return usageResult(err)
	}
	catalog := rules.Catalog()
	switch len(pos) {
	case 0:
	case 1:
		r := rules.Lookup(pos[0])
		if r == nil {
			return exitInput, unknownRule(pos[0])
		}
		catalog = []*rules.Rule{r}
	default:
		return exitInput, fmt.Errorf("rules: one rule ID at a time, got %d: rwin rules %s", len(pos), pos[0])
	}
	switch *format {
	case "text":
		if len(pos) == 1 {
			return exitOK, writeRule(stdout, catalog[0])
		}
		return exitOK, writeRuleList(stdout, catalog)
	case "json":
		type entry struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			Severity string `json:"severity"`
			Doc      string `json:"doc"`
			Evidence string `json:"evidence"`
			Advice   string `json:"advice"`
		}
		var out []entry
		for _, r := range catalog {
			g := r.Guide()
			out = append(out, entry{r.ID, r.Name, r.Severity.String(), r.Doc, g.Evidence, g.Advice})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return exitOK, enc.Encode(out)
	case "markdown":
		if len(pos) == 1 {
			return exitInput, fmt.Errorf("rules: --format markdown renders the whole catalog: rwin rules --format markdown")
		}
		_, err := io.WriteString(stdout, rules.Markdown())
		return exitOK, err
	}
	return exitInput, fmt.Errorf("rules: unknown format %q (want text, json or markdown)", *format)
}

// writeRuleList writes the catalog as a table with each rule's first
// sentence under it.
func writeRuleList(w io.Writer, catalog []*rules.Rule) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tNAME")
	for _, r := range catalog {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.ID, r.Severity, r.Name)
		fmt.Fprintf(tw, "\t\t%s\n", firstSentence(r.Doc))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "\nrwin rules ID shows one rule in full.")
	return err
}

// writeRule writes one rule in full: what it detects and how, at what
// severity, the evidence its findings cite and the advice they give.
func writeRule(w io.Writer, r *rules.Rule) error {
	g := r.Guide()
	_, err := fmt.Fprintf(w, "%s: %s\nseverity: at most %s\n\n%s\n\nevidence:\n%s\n\nadvice:\n%s\n",
		r.ID, r.Name, r.Severity, wrapText(r.Doc, 76, ""), wrapText(g.Evidence, 74, "  "), wrapText(g.Advice, 74, "  "))
	return err
}

// firstSentence is the first sentence of a rule's description, for the
// list: up to the first full stop followed by a space and a capital.
func firstSentence(s string) string {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '.' && s[i+1] == ' ' && unicode.IsUpper(rune(s[i+2])) {
			return s[:i+1]
		}
	}
	return s
}

// wrapText breaks s into lines of at most width runes (a longer word
// stands alone), each after indent.
func wrapText(s string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for _, word := range strings.Fields(s) {
		l := utf8.RuneCountInString(word)
		switch {
		case n == 0:
			b.WriteString(indent)
		case n+1+l > width:
			b.WriteString("\n" + indent)
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += l
	}
	return b.String()
}

// unknownRule names the IDs close to id: a typo, a prefix, or a word of
// the ID.
func unknownRule(id string) error {
	var close []string
	for _, r := range rules.Catalog() {
		if strings.Contains(r.ID, id) || strings.Contains(id, r.ID) || editDistance(id, r.ID) <= max(2, len(id)/4) {
			close = append(close, r.ID)
		}
	}
	if len(close) == 0 {
		return fmt.Errorf("rules: unknown rule %q (rwin rules lists them)", id)
	}
	return fmt.Errorf("rules: unknown rule %q; did you mean %s?", id, strings.Join(close, ", "))
}

// editDistance is the Levenshtein distance between a and b, in bytes:
// rule IDs are ASCII.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
