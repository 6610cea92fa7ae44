package rules

import (
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
)

func TestPolicyErrors(t *testing.T) {
	tests := []struct {
		name, policy, want string
	}{
		{"empty file", ``, "empty file"},
		{"not json", `fail_on: warn`, "not valid JSON at byte 3"},
		{"two documents", `{} {}`, "more than one JSON value"},
		{"misspelt key", `{"fail_onn": "warn"}`, `unknown field "fail_onn"`},
		{"misspelt key in a rule", `{"rules": {"zero-window": {"fail": "warn"}}}`, `unknown field "fail"`},
		{"unknown severity", `{"fail_on": "fatal"}`, `fail_on: unknown level "fatal" (want info, warn, error or never)`},
		{"unknown confidence", `{"min_confidence": "sure"}`, `min_confidence: unknown confidence "sure"`},
		{"wrong type", `{"min_rwin": "64k"}`, "min_rwin: want a whole number, got a string"},
		{"fraction of a byte", `{"min_rwin": 1.5}`, "min_rwin: want a whole number, got the number 1.5"},
		{"string where a list goes", `{"ignore": "mss-clamped"}`, "ignore: want a list of strings, got a string"},
		{"list where an object goes", `{"ports": []}`, "ports: want an object, got a list"},
		{"not an object", `[1]`, "the document: want an object, got a list"},
		{"key given twice", `{"fail_on": "never", "fail_on": "error"}`, `the document: key "fail_on" given twice`},
		{"key given twice in a nested object", `{"ports": {"3389": {"min_rwin": 1, "min_rwin": 2}}}`, `ports.3389: key "min_rwin" given twice`},
		{"port given twice", `{"ports": {"445": {"min_rwin": 1}, "445": {"negotiate": ["sack"]}}}`, `ports: key "445" given twice`},
		{"null fail level", `{"fail_on": null}`, "fail_on: null is not a value here (leave the key out for the default)"},
		{"null window", `{"ports": {"3389": {"min_rwin": null, "negotiate": ["sack"]}}}`, "ports.3389.min_rwin: null is not a value here"},
		{"null in a list", `{"expect": [{"captures": "*.pcap", "require": [null]}]}`, "expect[0].require[0]: null is not a value here"},
		{"null document", `null`, "the document: null is not a value here"},
		{"larger than a policy", `{"ignore": [` + strings.Repeat(`"mss-clamped",`, 80_000) + `"mss-clamped"]}`, "larger than 1024 KiB"},
		{"unknown rule in rules", `{"rules": {"wscale-strip": {"fail_on": "error"}}}`, `rules: unknown rule "wscale-strip" (rwin rules lists them)`},
		{"rule override that says nothing", `{"rules": {"zero-window": {}}}`, "rules: zero-window: give fail_on or min_confidence"},
		{"unknown rule in ignore", `{"ignore": ["mss-clamp"]}`, `ignore: unknown rule "mss-clamp"`},
		{"negative window", `{"min_rwin": -1}`, "min_rwin: -1: want a positive number of bytes"},
		{"window beyond what tcp allows", `{"min_rwin": 2000000000}`, "exceeds the largest window TCP can advertise"},
		{"port that is no port", `{"ports": {"rdp": {"negotiate": ["scaling"]}}}`, `ports: "rdp" is not a port number`},
		{"port zero", `{"ports": {"0": {"negotiate": ["scaling"]}}}`, `ports: "0" is not a port number`},
		{"unknown option to negotiate", `{"ports": {"3389": {"negotiate": ["wscale"]}}}`, `negotiate: unknown option "wscale"`},
		{"port rule that says nothing", `{"ports": {"3389": {}}}`, "ports: 3389: give negotiate or min_rwin"},
		{"expectation without a glob", `{"expect": [{"require": ["syn-proxy"]}]}`, "expect[0]: captures: a glob is required"},
		{"expectation with a broken glob", `{"expect": [{"captures": "a/[b", "require": ["syn-proxy"]}]}`, "syntax error in pattern"},
		{"expectation of an unknown rule", `{"expect": [{"captures": "*.pcap", "require": ["syn-proxi"]}]}`, `expect[0]: unknown rule or check "syn-proxi"`},
		{"expectation that checks nothing", `{"expect": [{"captures": "*.pcap"}]}`, "expect[0]: give require or forbid"},
		{"required and forbidden", `{"expect": [{"captures": "*.pcap", "require": ["syn-proxy"], "forbid": ["syn-proxy"]}]}`,
			`"syn-proxy" is both required and forbidden`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy(strings.NewReader(tc.policy), "/fixtures")
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrPolicy))
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
			assert.NotRegexp(t, `int64|uint|\[\]string|map\[|struct|rules\.`, err.Error(), "no Go type names")
		})
	}
}

func TestLoadPolicyNamesTheFile(t *testing.T) {
	_, err := LoadPolicy(filepath.Join(t.TempDir(), "missing.json"))
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrPolicy))
	assert.Contains(t, err.Error(), "missing.json")
}

func TestPolicyFailLevels(t *testing.T) {
	f := func(id string, sev Severity, conf Confidence) Finding {
		return Finding{ID: id, Severity: sev, Confidence: conf}
	}
	tests := []struct {
		name   string
		policy string
		x      Finding
		fails  bool
	}{
		{"default fails on error", `{}`, f("syn-proxy", Error, Medium), true},
		{"default lets warn pass", `{}`, f("window-limited", Warn, High), false},
		{"fail_on warn", `{"fail_on": "warn"}`, f("window-limited", Warn, High), true},
		{"info stays below warn", `{"fail_on": "warn"}`, f("mss-clamped", Info, Medium), false},
		{"never", `{"fail_on": "never"}`, f("syn-proxy", Error, High), false},
		{"below the minimum confidence", `{"fail_on": "warn", "min_confidence": "high"}`, f("wscale-stripped", Warn, Medium), false},
		{"at the minimum confidence", `{"fail_on": "warn", "min_confidence": "medium"}`, f("wscale-stripped", Warn, Medium), true},
		{"rule raised to fail on info", `{"rules": {"mss-clamped": {"fail_on": "info"}}}`, f("mss-clamped", Info, Low), true},
		{"rule that never fails", `{"fail_on": "info", "rules": {"scale-unknown": {"fail_on": "never"}}}`, f("scale-unknown", Info, High), false},
		{"rule needing high confidence", `{"fail_on": "warn", "rules": {"wscale-stripped": {"min_confidence": "high"}}}`,
			f("wscale-stripped", Warn, Medium), false},
		{"ignored rule", `{"fail_on": "info", "ignore": ["mss-clamped"]}`, f("mss-clamped", Error, Proven), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy(strings.NewReader(tc.policy), "/")
			require.NoError(t, err)
			assert.Equal(t, tc.fails, p.fails(&tc.x))
		})
	}
}

func TestExpectationGlobs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		glob, path string
		match      bool
	}{
		{"captures/lab/clean/*.pcap", "captures/lab/clean/client.pcap", true},
		{"captures/lab/*/server.pcap", "captures/lab/clean/server.pcap", true},
		{"captures/lab/*.pcap", "captures/lab/clean/client.pcap", false},
		{"captures/**/client.pcap", "captures/lab/clean/client.pcap", true},
		{"captures/**/client.pcap", "captures/client.pcap", true},
		{"captures/**", "captures/a/b/c.pcap", true},
		{"captures/lab/ws-strip-syn/*.pcap", "captures/lab/ws-strip-synack/client.pcap", false},
		{"other/*.pcap", "captures/x.pcap", false},
		{"**/b/**/d/**", "a/b/c/d/e.pcap", true},
		{"**/b/**/d", "a/b/c/d/e.pcap", false},
		{"captures/**/**/x.pcap", "captures/x.pcap", true},
		{"**/*.pcap", "a/b/c.pcapng", false},
	}
	for _, tc := range tests {
		t.Run(tc.glob+" "+tc.path, func(t *testing.T) {
			p, err := ParsePolicy(strings.NewReader(`{"expect": [{"captures": "`+tc.glob+`", "forbid": ["syn-proxy"]}]}`), dir)
			require.NoError(t, err)
			assert.Equal(t, tc.match, p.Expectations()[0].Matches(filepath.Join(dir, tc.path)))
		})
	}
}

// judge runs a policy over hand-made flows, each with its findings.
func judge(t *testing.T, policy, capture string, flows []*analyze.Flow, found [][]Finding) Verdict {
	t.Helper()
	p, err := ParsePolicy(strings.NewReader(policy), "/fx")
	require.NoError(t, err)
	j := p.Start(capture)
	for i, f := range flows {
		j.Add(f, found[i])
	}
	return j.Done()
}

// checkNames lists a verdict's checks with their violation counts.
func checkNames(v Verdict) map[string]int {
	out := map[string]int{}
	for _, c := range v.Checks {
		out[c.Name] = len(c.Violations)
	}
	return out
}

func TestJudgement(t *testing.T) {
	unscaled := handBuilt(linuxSYN, 7, 64, []uint8{mss, sok, ts}, 0, 60)
	unscaled.Negotiated.Scaling = analyze.No
	stripped := []Finding{{ID: "wscale-stripped", Severity: Warn, Confidence: Medium, Summary: "stripped"}}

	t.Run("a finding at the fail level fails the capture", func(t *testing.T) {
		v := judge(t, `{"fail_on": "warn"}`, "/fx/a.pcap", []*analyze.Flow{unscaled}, [][]Finding{stripped})
		assert.False(t, v.OK())
		assert.Equal(t, map[string]int{"findings": 1}, checkNames(v))
		require.NotNil(t, v.Checks[0].Violations[0].Flow)
		assert.NotSame(t, unscaled, v.Checks[0].Violations[0].Flow, "the verdict keeps its own copy")
	})
	t.Run("a required finding is expected, not a violation", func(t *testing.T) {
		v := judge(t, `{"fail_on": "warn", "expect": [{"captures": "*.pcap", "require": ["wscale-stripped"]}]}`,
			"/fx/a.pcap", []*analyze.Flow{unscaled}, [][]Finding{stripped})
		assert.True(t, v.OK())
		assert.Equal(t, map[string]int{"findings": 0, "require wscale-stripped": 0}, checkNames(v))
		assert.Equal(t, 1, v.Checks[0].Waived)
	})
	t.Run("a required finding that is missing", func(t *testing.T) {
		v := judge(t, `{"expect": [{"captures": "*.pcap", "require": ["syn-proxy"]}]}`, "/fx/a.pcap",
			[]*analyze.Flow{unscaled}, [][]Finding{stripped})
		assert.Equal(t, map[string]int{"findings": 0, "require syn-proxy": 1}, checkNames(v))
	})
	t.Run("a forbidden finding at info still fails", func(t *testing.T) {
		info := []Finding{{ID: "mss-clamped", Severity: Info, Confidence: Low}}
		v := judge(t, `{"expect": [{"captures": "*.pcap", "forbid": ["mss-clamped"]}]}`, "/fx/a.pcap",
			[]*analyze.Flow{unscaled}, [][]Finding{info})
		assert.Equal(t, map[string]int{"findings": 0, "forbid mss-clamped": 1}, checkNames(v))
	})
	t.Run("an expectation for other captures", func(t *testing.T) {
		v := judge(t, `{"expect": [{"captures": "other/*.pcap", "require": ["syn-proxy"]}]}`, "/fx/a.pcap",
			[]*analyze.Flow{unscaled}, [][]Finding{nil})
		assert.True(t, v.OK())
		assert.Equal(t, map[string]int{"findings": 0}, checkNames(v))
	})
}

func TestThresholdChecks(t *testing.T) {
	rdp := func(scaling analyze.Tri, shift uint8, field uint16, received uint64) *analyze.Flow {
		f := handBuilt(linuxSYN, 7, 64, linuxSYN, 7, 60)
		f.Server.Addr = netip.AddrPortFrom(netip.MustParseAddr("192.0.2.20"), 3389)
		f.Negotiated.Scaling = scaling
		f.Client.Shift = analyze.Shift{Basis: analyze.BasisNegotiated, Value: capture.Shift(shift)}
		if scaling == analyze.Unknown {
			f.Client.Shift = analyze.Shift{}
		}
		f.Client.Window.Samples, f.Client.Window.Max, f.Client.Window.Median = 10, field, field
		f.Server.UniqueBytes = received
		return f
	}
	policy := `{"min_rwin": 65536, "ports": {"3389": {"negotiate": ["scaling"]}}}`
	tests := []struct {
		name string
		f    *analyze.Flow
		want map[string]int
	}{
		{"scaled window that opened", rdp(analyze.Yes, 7, 2000, 1<<20), map[string]int{"findings": 0, "min-rwin": 0, "negotiate": 0}},
		{"scaling off, 64 KiB at most", rdp(analyze.No, 0, 65535, 1<<20), map[string]int{"findings": 0, "min-rwin": 1, "negotiate": 1}},
		{"too little data to judge the window", rdp(analyze.No, 0, 65535, 1000), map[string]int{"findings": 0, "min-rwin": 0, "negotiate": 1}},
		{"no handshake: scaling cannot be confirmed", rdp(analyze.Unknown, 0, 500, 1<<20), map[string]int{"findings": 0, "min-rwin": 0, "negotiate": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := judge(t, policy, "/fx/a.pcap", []*analyze.Flow{tc.f}, [][]Finding{nil})
			assert.Equal(t, tc.want, checkNames(v))
		})
	}
	t.Run("a port's own minimum wins", func(t *testing.T) {
		v := judge(t, `{"min_rwin": 65536, "ports": {"3389": {"min_rwin": 1048576}}}`, "/fx/a.pcap",
			[]*analyze.Flow{rdp(analyze.Yes, 7, 2000, 1<<20)}, [][]Finding{nil})
		assert.Equal(t, map[string]int{"findings": 0, "min-rwin": 1}, checkNames(v))
	})
}

// TestGlobWithManyDoubleStarsIsFast: a glob of twenty ** against a deep
// path that it does not match answers at once (trying every split took
// exponential time and hung).
func TestGlobWithManyDoubleStarsIsFast(t *testing.T) {
	pat := strings.Split(strings.Repeat("**/", 20)+"x.pcap", "/")
	name := strings.Split(strings.Repeat("d/", 60)+"y.pcap", "/")
	done := make(chan bool, 1)
	go func() { done <- globMatch(pat, name) }()
	select {
	case m := <-done:
		assert.False(t, m)
	case <-time.After(2 * time.Second):
		t.Fatal("20 ** against 61 path elements took more than 2 s")
	}
}

// globMatchByRecursion is the definition of globMatch, trying every split
// of the name at each "**": right, and exponential in the number of "**".
func globMatchByRecursion(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if globMatchByRecursion(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 || !elementMatch(pat[0], name[0]) {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// FuzzGlobMatch holds globMatch to its definition on small patterns and
// paths.
func FuzzGlobMatch(f *testing.F) {
	f.Add("captures/**/client.pcap", "captures/lab/clean/client.pcap")
	f.Add("**/b/**/d/**", "a/b/c/d/e")
	f.Add("**/**/x", "x")
	f.Add("a/*/[bc]/**", "a/z/c")
	f.Fuzz(func(t *testing.T, pattern, path string) {
		pat, name := strings.Split(pattern, "/"), strings.Split(path, "/")
		if len(pat) > 8 || len(name) > 12 {
			return // the recursion would be slow, not wrong
		}
		assert.Equal(t, globMatchByRecursion(pat, name), globMatch(pat, name), "%q against %q", pattern, path)
	})
}
