package report

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestShownEscapesWhatATerminalWouldObey(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain name kept", "lab/rdp server.pcap", "lab/rdp server.pcap"},
		{"non-ASCII letters kept", "captures/üß≥.pcap", "captures/üß≥.pcap"},
		{"escape sequence that clears the screen", "a\x1b[2Jb.pcap", `a\x1b[2Jb.pcap`},
		{"window title sequence", "\x1b]0;owned\a.pcap", `\x1b]0;owned\a.pcap`},
		{"carriage return that overwrites a line", "x.pcap\rPASS", `x.pcap\rPASS`},
		{"newline that forges a log line", "x.pcap\nPASS  y.pcap", `x.pcap\nPASS  y.pcap`},
		{"C1 control", "a\u009bb", `a\u009bb`},
		{"bidi override that reverses the name", "x\u202egnp.pcap", `x\u202egnp.pcap`},
		{"byte that is not UTF-8", "a\xffb", `a\xffb`},
		{"DEL", "a\x7f", `a\x7f`},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, Shown(c.in))
		})
	}
}
