// Command sizecheck enforces the project's size rules on non-test Go
// files: no function over 80 lines, no file over 500 lines, and
// cmd/postern (which only wires the libraries together) under 3,000
// lines. CI runs it; it prints each breach with its place and exits 1
// when there is one.
//
//	go run ./tools/sizecheck [dir ...]
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const (
	maxFuncLines   = 80
	maxFileLines   = 500
	maxWiringLines = 3000
	wiringDir      = "cmd/postern"
)

// breach is one function or file over its limit.
type breach struct {
	pos   token.Position
	what  string
	lines int
	limit int
}

func main() {
	dirs := os.Args[1:]
	if len(dirs) == 0 {
		dirs = []string{"cmd", "internal", "tools"}
	}
	var all []breach
	for _, d := range dirs {
		b, err := scan(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sizecheck:", err)
			os.Exit(2)
		}
		all = append(all, b...)
	}
	if len(os.Args) == 1 {
		n, err := goLines(wiringDir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sizecheck:", err)
			os.Exit(2)
		}
		if n > maxWiringLines {
			all = append(all, breach{pos: token.Position{Filename: wiringDir}, what: "the wiring of package main", lines: n, limit: maxWiringLines})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].lines > all[j].lines })
	for _, b := range all {
		fmt.Printf("%s:%d: %s is %d lines (limit %d)\n", b.pos.Filename, b.pos.Line, b.what, b.lines, b.limit)
	}
	if len(all) > 0 {
		fmt.Printf("sizecheck: %d over the limits; split them along the steps they take\n", len(all))
		os.Exit(1)
	}
}

// goLines counts the lines of the non-test Go files directly in dir.
func goLines(dir string) (int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		n += strings.Count(string(data), "\n")
	}
	return n, nil
}

// scan checks every non-test Go file under dir.
func scan(dir string) ([]breach, error) {
	var out []breach
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != dir {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		out = append(out, check(fset, f)...)
		return nil
	})
	return out, err
}

// check finds the breaches in one parsed file. Generated files are
// exempt.
func check(fset *token.FileSet, f *ast.File) []breach {
	if ast.IsGenerated(f) {
		return nil
	}
	var out []breach
	tf := fset.File(f.Pos())
	if n := tf.LineCount(); n > maxFileLines {
		out = append(out, breach{pos: fset.Position(f.Pos()), what: "file", lines: n, limit: maxFileLines})
	}
	ast.Inspect(f, func(n ast.Node) bool {
		var body *ast.BlockStmt
		name := "function literal"
		switch fn := n.(type) {
		case *ast.FuncDecl:
			body, name = fn.Body, "func "+fn.Name.Name
		case *ast.FuncLit:
			body = fn.Body
		}
		if body == nil {
			return true
		}
		start, end := fset.Position(n.Pos()), fset.Position(body.End())
		if lines := end.Line - start.Line + 1; lines > maxFuncLines {
			out = append(out, breach{pos: start, what: name, lines: lines, limit: maxFuncLines})
		}
		return true
	})
	return out
}
