package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"rwin/analyze"
	"rwin/rules"
)

// JUnit writes rwin check's verdicts as JUnit XML, as Jenkins, GitLab and
// GitHub test reporters read it: one test suite per capture, one test
// case per check of the policy, a failure per check with violations and
// an error per capture that could not be read to its end. It renders the
// policy's verdict of each input (Input.Verdict), not flows: it keeps
// nothing of them.
type JUnit struct{ w io.Writer }

// NewJUnit returns the JUnit sink writing to w.
func NewJUnit(w io.Writer) *JUnit { return &JUnit{w: w} }

// Flow does nothing: the verdicts hold what the report shows of flows.
func (*JUnit) Flow(int, *Flow) {}

// EndInput does nothing: the document is written whole at Close.
func (*JUnit) EndInput(int, *Input) {}

// Close writes the document.
func (j *JUnit) Close(run *Run) error {
	b, err := xml.MarshalIndent(junitOf(run.Inputs), "", "  ")
	if err != nil {
		return err
	}
	b = append([]byte(xml.Header), append(b, '\n')...)
	_, err = j.w.Write(b)
	return err
}

// JUnitSuites is the JUnit XML document.
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one capture's test suite.
type JUnitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []JUnitCase `xml:"testcase"`
}

// JUnitCase is one check of the policy on a capture, or its reading.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *JUnitProblem `xml:"failure,omitempty"`
	Error     *JUnitProblem `xml:"error,omitempty"`
}

// JUnitProblem is a case's failure or error.
type JUnitProblem struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func junitOf(inputs []Input) JUnitSuites {
	doc := JUnitSuites{Name: "rwin check"}
	for _, r := range inputs {
		s := JUnitSuite{Name: r.Name}
		if r.Err != nil {
			s.Cases = append(s.Cases, JUnitCase{Name: "read", ClassName: r.Name,
				Error: &JUnitProblem{Message: OneLine(r.Err.Error())}})
			s.Errors++
		}
		var checks []rules.CheckResult
		if r.Verdict != nil {
			checks = r.Verdict.Checks
		}
		for _, c := range checks {
			jc := JUnitCase{Name: c.Name, ClassName: r.Name}
			if !c.OK() {
				var text strings.Builder
				for _, v := range c.Violations {
					if v.Flow != nil {
						text.WriteString(FlowLabel(v.Flow) + ": ")
					}
					text.WriteString(v.Message + "\n")
				}
				jc.Failure = &JUnitProblem{Message: Plural(len(c.Violations), "violation"), Text: text.String()}
				s.Failures++
			}
			s.Cases = append(s.Cases, jc)
		}
		s.Tests = len(s.Cases)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Suites = append(doc.Suites, s)
	}
	return doc
}

// FlowLabel names a flow in a violation: "flow 3 10.0.0.1:50000 → 10.0.0.2:3389".
func FlowLabel(f *analyze.Flow) string {
	if f == nil {
		return ""
	}
	return fmt.Sprintf("flow %d %s → %s", f.ID, f.Client.Addr, f.Server.Addr)
}
