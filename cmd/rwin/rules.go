package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"rwin/rules"
)

// cmdRules lists the finding catalog, so users and policies can see every
// ID rwin may report.
func cmdRules(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rules", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output `format`: text, json or markdown")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return errUsage
	}
	switch *format {
	case "text":
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSEVERITY\tNAME")
		for _, r := range rules.Catalog() {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.ID, r.Severity, r.Name)
		}
		return tw.Flush()
	case "json":
		type entry struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			Severity string `json:"severity"`
			Doc      string `json:"doc"`
		}
		var out []entry
		for _, r := range rules.Catalog() {
			out = append(out, entry{r.ID, r.Name, r.Severity.String(), r.Doc})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "markdown":
		_, err := io.WriteString(stdout, rules.Markdown())
		return err
	}
	return fmt.Errorf("rules: unknown format %q (want text, json or markdown)", *format)
}
