package apicheck

import (
	"bufio"
	"bytes"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/shoaldb/shoal"

// public lists the packages checked and, for each, the module packages
// below it whose types its API must not name (besides every internal/
// package).
var public = map[string][]string{
	module + "/index":          {module + "/cluster", module + "/posting", module + "/tenant"},
	module + "/index/filter":   {module + "/cluster", module + "/posting", module + "/tenant"},
	module + "/server":         {module + "/cluster", module + "/posting", module + "/tenant"},
	module + "/client":         {module + "/cluster", module + "/posting", module + "/tenant", module + "/index"},
	module + "/proto/shoal/v1": {module + "/index"},
}

func TestPublicAPI(t *testing.T) {
	imp := newImporter(t, module+"/posting")
	var paths []string
	for p := range public {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		pkg, err := imp.Import(path)
		if err != nil {
			t.Fatalf("import %s: %v", path, err)
		}
		c := checker{pkg: pkg, forbidden: public[path]}
		for _, name := range pkg.Scope().Names() {
			if obj := pkg.Scope().Lookup(name); obj.Exported() {
				c.object(obj)
			}
		}
		for _, p := range c.problems {
			t.Errorf("%s: %s", path, p)
		}
	}
}

// TestCheckerFindsInternalTypes: the checker is not vacuous. Package
// posting, a layer below the public API, names internal/vec's element
// type in Posting.Elem, and one layer's types are forbidden to another.
func TestCheckerFindsInternalTypes(t *testing.T) {
	imp := newImporter(t, module+"/posting")
	pkg, err := imp.Import(module + "/posting")
	if err != nil {
		t.Fatal(err)
	}
	c := checker{pkg: pkg}
	for _, name := range pkg.Scope().Names() {
		if obj := pkg.Scope().Lookup(name); obj.Exported() {
			c.object(obj)
		}
	}
	found := false
	for _, p := range c.problems {
		found = found || strings.Contains(p, "Posting.Elem names "+module+"/internal/vec.ElemType")
	}
	if !found {
		t.Fatalf("checker missed posting.Posting.Elem (internal/vec.ElemType); it found %q", c.problems)
	}
}

// newImporter returns an importer of the public packages and extra (and
// everything they import) from their export data.
func newImporter(t *testing.T, extra ...string) types.Importer {
	exports := exportData(t, extra)
	return importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
}

// exportData builds the public packages and extra (go list -export) and
// returns the export data file of each package they depend on.
func exportData(t *testing.T, extra []string) map[string]string {
	args := append([]string(nil), extra...)
	for p := range public {
		args = append(args, p)
	}
	cmd := exec.Command("go", append([]string{"list", "-export", "-deps", "-f", "{{.ImportPath}} {{.Export}}"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v\n%s", err, stderr.Bytes())
	}
	m := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, file, ok := strings.Cut(sc.Text(), " ")
		if ok && file != "" {
			m[path] = file
		}
	}
	return m
}

type checker struct {
	pkg       *types.Package
	forbidden []string
	problems  []string
	seen      map[types.Type]bool
}

func (c *checker) object(obj types.Object) {
	switch o := obj.(type) {
	case *types.TypeName:
		if o.IsAlias() {
			c.typ(o.Name(), o.Type(), true)
			return
		}
		named, ok := o.Type().(*types.Named)
		if !ok {
			return
		}
		c.typ(o.Name(), named.Underlying(), true)
		ms := types.NewMethodSet(types.NewPointer(named))
		for i := range ms.Len() {
			m := ms.At(i).Obj()
			if m.Exported() && m.Pkg() == c.pkg {
				c.typ(o.Name()+"."+m.Name(), m.Type(), true)
			}
		}
	default:
		c.typ(obj.Name(), obj.Type(), true)
	}
}

// typ reports the forbidden named types t mentions. Named types of other
// packages are judged by name only; the package's own are checked where
// they are declared.
func (c *checker) typ(where string, t types.Type, top bool) {
	switch t := t.(type) {
	case *types.Named:
		if p := t.Obj().Pkg(); p != nil && p != c.pkg {
			if c.bad(p.Path()) {
				c.problems = append(c.problems, fmt.Sprintf("%s names %s.%s", where, p.Path(), t.Obj().Name()))
			}
			return
		}
		if !top {
			return
		}
		c.typ(where, t.Underlying(), false)
	case *types.Alias:
		c.typ(where, types.Unalias(t), top)
	case *types.Pointer:
		c.typ(where, t.Elem(), top)
	case *types.Slice:
		c.typ(where, t.Elem(), top)
	case *types.Array:
		c.typ(where, t.Elem(), top)
	case *types.Map:
		c.typ(where, t.Key(), top)
		c.typ(where, t.Elem(), top)
	case *types.Chan:
		c.typ(where, t.Elem(), top)
	case *types.Signature:
		for _, tup := range []*types.Tuple{t.Params(), t.Results()} {
			for i := range tup.Len() {
				c.typ(where, tup.At(i).Type(), top)
			}
		}
	case *types.Struct:
		for i := range t.NumFields() {
			if f := t.Field(i); f.Exported() {
				c.typ(where+"."+f.Name(), f.Type(), top)
			}
		}
	case *types.Interface:
		for i := range t.NumMethods() {
			if m := t.Method(i); m.Exported() {
				c.typ(where+"."+m.Name(), m.Type(), top)
			}
		}
	}
}

func (c *checker) bad(path string) bool {
	if !strings.HasPrefix(path, module+"/") {
		return false
	}
	if strings.Contains(path, "/internal/") || strings.HasSuffix(path, "/internal") {
		return true
	}
	for _, f := range c.forbidden {
		if path == f || strings.HasPrefix(path, f+"/") {
			return true
		}
	}
	return false
}
