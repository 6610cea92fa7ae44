package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flagsInSource finds, in this package's source, every flag each command
// registers: the calls on a FlagSet made with flag.NewFlagSet("name", …),
// by the name literal they pass. It reads the source rather than the
// help, so a flag the help leaves out is caught.
func flagsInSource(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	paths, err := filepath.Glob("*.go")
	require.NoError(t, err)
	found := map[string][]string{}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, path, nil, 0)
		require.NoError(t, err)
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			sets := map[string]string{} // variable → command
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == 1 && len(as.Rhs) == 1 {
					if call, ok := as.Rhs[0].(*ast.CallExpr); ok && isSelector(call.Fun, "flag", "NewFlagSet") {
						if id, ok := as.Lhs[0].(*ast.Ident); ok {
							sets[id.Name] = stringArg(call, 0)
						}
					}
				}
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				recv, ok := sel.X.(*ast.Ident)
				if !ok || sets[recv.Name] == "" || sel.Sel.Name == "Parse" {
					return true
				}
				arg := 0
				if strings.HasSuffix(sel.Sel.Name, "Var") {
					arg = 1 // fs.StringVar(&v, "name", …)
				}
				if name := stringArg(call, arg); name != "" {
					found[sets[recv.Name]] = append(found[sets[recv.Name]], name)
				}
				return true
			})
		}
	}
	return found
}

func isSelector(e ast.Expr, pkg, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg && sel.Sel.Name == name
}

func stringArg(call *ast.CallExpr, i int) string {
	if i >= len(call.Args) {
		return ""
	}
	lit, ok := call.Args[i].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return ""
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		return ""
	}
	return s
}

// TestHelpListsEveryFlag checks that each command's -h lists every flag
// the command registers, each on a line of its own with what it means.
func TestHelpListsEveryFlag(t *testing.T) {
	found := flagsInSource(t)
	for _, name := range []string{"read", "live", "diff", "check", "rules"} {
		t.Run(name, func(t *testing.T) {
			flags := found[name]
			require.NotEmpty(t, flags, "no flag of rwin %s found in the source: the test lost its way", name)
			code, help, stderr := rwinRun(t, nil, name, "-h")
			require.Equal(t, exitOK, code, stderr)
			for _, f := range flags {
				dash := "-"
				if len(f) > 1 {
					dash = "--"
				}
				line := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(dash+f) + `( [A-Z]+)?  +\S.*$`)
				assert.Regexp(t, line, help, "rwin %s -h must list %s%s with its meaning", name, dash, f)
			}
			// A placeholder says what the value is, not its Go type.
			goType := regexp.MustCompile(`(?m)^  --?[a-z-]+ (STRING|INT|INT64|UINT|UINT64|FLOAT|VALUE)  `)
			assert.NotRegexp(t, goType, help, "rwin %s -h: name the value with `backquotes` in the flag's usage", name)
		})
	}
}

// TestTopHelpListsEveryCommand checks that rwin -h names every command
// that run dispatches, so none is reachable but undocumented.
func TestTopHelpListsEveryCommand(t *testing.T) {
	_, help, _ := rwinRun(t, nil, "-h")
	for _, name := range []string{"read", "live", "diff", "check", "rules", "version", "help"} {
		assert.Regexp(t, `(?m)^  rwin `+name+` +\S`, help)
		code, _, stderr := rwinRun(t, nil, "help", name)
		assert.Equal(t, exitOK, code, stderr)
	}
}
