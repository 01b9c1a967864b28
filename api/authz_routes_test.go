package api_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/dataport/dataport/api"
)

// route is one endpoint of the server: an OpenAPI operation (id is its operationId)
// or a plain handler on the server's mux (id is its pattern, "GET /log/checkpoint").
type route struct {
	id, method, path string
}

// serverRoutes lists every route the server answers, read from the server itself:
// the operations of its OpenAPI document, and the plain handlers its source mounts on
// the mux (mux.Handle and mux.HandleFunc in the package's non-test files), so that a
// route added anywhere shows up here without anyone keeping a list.
func serverRoutes(t *testing.T, s *api.Server) []route {
	t.Helper()
	var rs []route
	for path, item := range s.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Options, item.Head, item.Patch, item.Trace} {
			if op != nil {
				rs = append(rs, route{id: op.OperationID, method: op.Method, path: path})
			}
		}
	}
	for _, p := range muxPatterns(t) {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			t.Fatalf("plain route %q names no method: every route of the API says which it answers", p)
		}
		rs = append(rs, route{id: p, method: method, path: path})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].id < rs[j].id })
	return rs
}

// muxPatterns reads the patterns of every mux.Handle and mux.HandleFunc call in the
// package's own (non-test) source. A pattern must be a constant expression (string
// literals and constants, this package's or an imported one's), so the routes are
// known without running the server; one that is not fails the test rather than slip
// past the matrix.
func muxPatterns(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	files := parseDir(t, fset, ".")
	consts := constsOf(files)
	imported := map[string]map[string]ast.Expr{} // import name → its constants
	importPaths := map[string]string{}
	for _, f := range files {
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			name := filepath.Base(p)
			if im.Name != nil {
				name = im.Name.Name
			}
			importPaths[name] = p
		}
	}
	var eval func(e ast.Expr, scope map[string]ast.Expr) (string, bool)
	eval = func(e ast.Expr, scope map[string]ast.Expr) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(e.Value)
			return s, err == nil
		case *ast.ParenExpr:
			return eval(e.X, scope)
		case *ast.BinaryExpr:
			if e.Op != token.ADD {
				return "", false
			}
			a, ok1 := eval(e.X, scope)
			b, ok2 := eval(e.Y, scope)
			return a + b, ok1 && ok2
		case *ast.Ident:
			if v, ok := scope[e.Name]; ok {
				return eval(v, scope)
			}
		case *ast.SelectorExpr:
			pkg, ok := e.X.(*ast.Ident)
			if !ok {
				return "", false
			}
			cs, ok := imported[pkg.Name]
			if !ok {
				p, known := importPaths[pkg.Name]
				const module = "github.com/dataport/dataport/"
				if !known || !strings.HasPrefix(p, module) {
					return "", false
				}
				cs = constsOf(parseDir(t, token.NewFileSet(), filepath.Join("..", strings.TrimPrefix(p, module))))
				imported[pkg.Name] = cs
			}
			if v, ok := cs[e.Sel.Name]; ok {
				return eval(v, cs)
			}
		}
		return "", false
	}
	var patterns []string
	for _, f := range files {
		for _, decl := range f.Decls {
			scope := consts
			if fn, ok := decl.(*ast.FuncDecl); ok {
				// A function's own constants (a base path, say) shadow the package's.
				scope = map[string]ast.Expr{}
				for k, v := range consts {
					scope[k] = v
				}
				for k, v := range constsIn(fn) {
					scope[k] = v
				}
			}
			ast.Inspect(decl, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 2 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
					return true
				}
				p, ok := eval(call.Args[0], scope)
				if !ok {
					t.Fatalf("%s: the route's pattern is not a constant string", fset.Position(call.Pos()))
				}
				patterns = append(patterns, p)
				return true
			})
		}
	}
	return patterns
}

func parseDir(t *testing.T, fset *token.FileSet, dir string) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// constsOf maps the names of the constants declared at the top level of files to
// their values' expressions.
func constsOf(files []*ast.File) map[string]ast.Expr {
	m := map[string]ast.Expr{}
	for _, f := range files {
		for _, d := range f.Decls {
			addConsts(m, d)
		}
	}
	return m
}

// constsIn maps the names of the constants declared inside fn.
func constsIn(fn *ast.FuncDecl) map[string]ast.Expr {
	m := map[string]ast.Expr{}
	ast.Inspect(fn, func(n ast.Node) bool {
		if d, ok := n.(*ast.DeclStmt); ok {
			addConsts(m, d.Decl)
		}
		return true
	})
	return m
}

func addConsts(m map[string]ast.Expr, d ast.Decl) {
	g, ok := d.(*ast.GenDecl)
	if !ok || g.Tok != token.CONST {
		return
	}
	for _, spec := range g.Specs {
		vs := spec.(*ast.ValueSpec)
		for i, name := range vs.Names {
			if i < len(vs.Values) {
				m[name.Name] = vs.Values[i]
			}
		}
	}
}
