// Package report is rwin's result model and its sinks: every output
// format renders the same Flow and summary values, built once per flow;
// rwin diff's outputs render its pair records (DiffOutput).
package report

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Shown is outside text — a capture's file name, a policy's strings, a
// message that quotes either — made safe to print on a terminal or into a
// log: control characters (an escape sequence could recolor, move the
// cursor or retitle the window), Unicode's bidirectional controls (which
// reorder what is shown) and bytes that are not UTF-8 are written as Go
// escapes (\x1b, \u202e, \xff); everything else, spaces and non-ASCII
// letters included, is kept as it is.
func Shown(s string) string {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, size) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case needsEscape(r, size):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// needsEscape tells whether Shown escapes the rune r, size bytes long.
func needsEscape(r rune, size int) bool {
	return (r == utf8.RuneError && size == 1) || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

// OneLine folds a message onto one line, so every error is one line, and
// escapes what a terminal would obey in it (see Shown): messages quote
// file names and other outside text.
func OneLine(s string) string {
	return Shown(strings.Join(strings.Fields(s), " "))
}
