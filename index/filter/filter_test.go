package filter

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
)

var colours = map[string]uint32{"red": 1, "large": 2, "used": 3, "x.y:z-1": 4,
	"color=red": 5, "size=x l": 6, `say "hi" (now)`: 7, "and": 8, "3d": 9, "é=ü": 10, "a\\b": 11}

func names(s string) (uint32, bool) {
	id, ok := colours[s]
	return id, ok
}

func TestParse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"3", "3"},
		{" 3 ", "3"},
		{"0", "0"},
		{"4294967295", "4294967295"},
		{"1 AND 2", "1 AND 2"},
		{"1 and 2 And 3", "1 AND 2 AND 3"},
		{"1&2", "1 AND 2"},
		{"1 && 2", "1 AND 2"},
		{"1|2||3", "1 OR 2 OR 3"},
		{"1 OR 2 AND 3", "1 OR 2 AND 3"},
		{"(1 OR 2) AND 3", "(1 OR 2) AND 3"},
		{"NOT 1", "NOT 1"},
		{"!1&!2", "NOT 1 AND NOT 2"},
		{"not not 1", "NOT NOT 1"},
		{"NOT (1 OR 2)", "NOT (1 OR 2)"},
		{"NOT 1 OR 2", "NOT 1 OR 2"},
		{"((1))", "1"},
		{"red AND (large OR NOT used)", "1 AND (2 OR NOT 3)"},
		{"x.y:z-1 | RED", "4 OR 1"},
		{"color=red", "5"},
		{"color=red AND NOT \"size=x l\"", "5 AND NOT 6"},
		{`(color=red|"say \"hi\" (now)")&!3d`, "(5 OR 7) AND NOT 9"},
		{`"AND" and "7"`, "8 AND 7"},
		{"é=ü", "10"},
		{`"a\\b" OR "a\b"`, "11 OR 11"},
	} {
		e, err := Parse(tc.in, func(s string) (uint32, bool) { return names(strings.ToLower(s)) })
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := e.String(); got != tc.want {
			t.Errorf("Parse(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	deep := strings.Repeat("(", MaxDepth+1) + "1" + strings.Repeat(")", MaxDepth+1)
	for _, tc := range []struct {
		in   string
		want error
		msg  string // part of the message
	}{
		{"", ErrSyntax, "offset 0: expected a label, NOT or (, found the end"},
		{"1 AND", ErrSyntax, "offset 5: expected a label"},
		{"1 2", ErrSyntax, `offset 2: expected AND, OR or the end, found "2"`},
		{"(1 OR 2", ErrSyntax, "expected ) to close the ( at offset 0, found the end"},
		{"1)", ErrSyntax, `found ")"`},
		{"1 # 2", ErrSyntax, `offset 2: expected AND, OR or the end, found "#"`},
		{"4294967296", ErrSyntax, "not a uint32"},
		{"3e", ErrUnknownLabel, `"3e" at offset 0`},
		{`"red`, ErrSyntax, "found an unterminated quoted name"},
		{`red "large"`, ErrSyntax, `expected AND, OR or the end, found "large"`},
		{`"4294967296"`, ErrSyntax, "not a uint32"},
		{"NOT", ErrSyntax, "found the end"},
		{"AND 1", ErrSyntax, `found "AND"`},
		{"blue", ErrUnknownLabel, `"blue" at offset 0`},
		{deep, ErrSyntax, "nested deeper"},
		{strings.Repeat("!", MaxDepth+1) + "1", ErrSyntax, "nested deeper"},
	} {
		_, err := Parse(tc.in, names)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Parse(%q) = %v, want %v containing %q", tc.in, err, tc.want, tc.msg)
		}
	}
	if _, err := Parse("red", nil); !errors.Is(err, ErrUnknownLabel) {
		t.Errorf("a name with nil Names: %v, want ErrUnknownLabel", err)
	}
}

func TestValidate(t *testing.T) {
	deep := Label(1)
	for range MaxDepth {
		deep = Not(deep)
	}
	for _, tc := range []struct {
		name string
		e    *Expr
		ok   bool
	}{
		{"label", Label(1), true},
		{"and", And(Label(1), Not(Label(2))), true},
		{"nil", nil, false},
		{"nil arg", And(Label(1), nil), false},
		{"empty and", And(), false},
		{"empty or", Or(), false},
		{"not of two", &Expr{Op: OpNot, Args: []*Expr{Label(1), Label(2)}}, false},
		{"label with args", &Expr{Op: OpLabel, Args: []*Expr{Label(1)}}, false},
		{"unknown op", &Expr{Op: 9}, false},
		{"too deep", deep, false},
	} {
		if err := tc.e.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// mapSource is a Source over explicit sets.
type mapSource map[uint32]*roaring64.Bitmap

func (m mapSource) Bitmap(l uint32) *roaring64.Bitmap { return m[l] }

// holds is the reference semantics: does id (with labels has) satisfy e?
func holds(e *Expr, has func(uint32) bool) bool {
	switch e.Op {
	case OpLabel:
		return has(e.Label)
	case OpNot:
		return !holds(e.Args[0], has)
	case OpAnd:
		for _, a := range e.Args {
			if !holds(a, has) {
				return false
			}
		}
		return true
	case OpOr:
		for _, a := range e.Args {
			if holds(a, has) {
				return true
			}
		}
		return false
	}
	panic("bad op")
}

// randomExpr returns a random expression over labels 0..nl-1.
func randomExpr(rng *rand.Rand, nl, depth int) *Expr {
	if depth == 0 || rng.IntN(3) == 0 {
		return Label(uint32(rng.IntN(nl)))
	}
	switch rng.IntN(3) {
	case 0:
		return Not(randomExpr(rng, nl, depth-1))
	case 1:
		args := make([]*Expr, 1+rng.IntN(3))
		for i := range args {
			args[i] = randomExpr(rng, nl, depth-1)
		}
		return And(args...)
	}
	args := make([]*Expr, 1+rng.IntN(3))
	for i := range args {
		args[i] = randomExpr(rng, nl, depth-1)
	}
	return Or(args...)
}

// TestEvalMatchesReference checks Eval against per-id evaluation, and
// that it leaves the source and universe bitmaps as they were.
func TestEvalMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, nl = 2000, 6
	src := mapSource{}
	labels := make([]map[uint32]bool, n)
	universe := roaring64.New()
	for id := range n {
		if rng.IntN(10) == 0 {
			continue // not live
		}
		universe.Add(uint64(id))
		labels[id] = map[uint32]bool{}
		for l := range uint32(nl - 1) { // label nl-1 is on no id
			if rng.IntN(1+int(l)*2) == 0 {
				labels[id][l] = true
				if src[l] == nil {
					src[l] = roaring64.New()
				}
				src[l].Add(uint64(id))
			}
		}
	}
	before := map[uint32]uint64{}
	for l, bm := range src {
		before[l] = bm.GetCardinality()
	}
	uniCard := universe.GetCardinality()
	for i := range 500 {
		e := randomExpr(rng, nl, 4)
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		calls := 0
		got := Eval(e, src, func() *roaring64.Bitmap { calls++; return universe })
		if calls > 1 {
			t.Fatalf("%s: universe asked for %d times, want at most once", e, calls)
		}
		want := roaring64.New()
		it := universe.Iterator()
		for it.HasNext() {
			id := it.Next()
			if holds(e, func(l uint32) bool { return labels[id][l] }) {
				want.Add(id)
			}
		}
		if !got.Equals(want) {
			t.Fatalf("expression %d, %s: Eval selects %d ids, reference %d", i, e, got.GetCardinality(), want.GetCardinality())
		}
		back, err := Parse(e.String(), nil)
		if err != nil {
			t.Fatalf("%s does not parse back: %v", e, err)
		}
		if again := Eval(back, src, func() *roaring64.Bitmap { return universe }); !again.Equals(want) {
			t.Fatalf("%s parsed back as %s selects other ids", e, back)
		}
	}
	for l, bm := range src {
		if bm.GetCardinality() != before[l] {
			t.Fatalf("Eval changed the bitmap of label %d", l)
		}
	}
	if universe.GetCardinality() != uniCard {
		t.Fatal("Eval changed the universe")
	}
}

func TestEvalNeedsUniverseOnlyForNegativeExpressions(t *testing.T) {
	src := mapSource{1: roaring64.BitmapOf(1, 2, 3), 2: roaring64.BitmapOf(2, 3)}
	uni := roaring64.BitmapOf(1, 2, 3, 4)
	for _, tc := range []struct {
		expr   string
		want   []uint64
		needsU bool
	}{
		{"1", []uint64{1, 2, 3}, false},
		{"1 AND NOT 2", []uint64{1}, false},
		{"NOT 2 AND 1", []uint64{1}, false},
		{"1 OR 2", []uint64{1, 2, 3}, false},
		{"7", nil, false},
		{"NOT 2", []uint64{1, 4}, true},
		{"NOT 1 AND NOT 2", []uint64{4}, true},
		{"NOT 7", []uint64{1, 2, 3, 4}, true},
	} {
		asked := false
		got := Eval(MustParse(tc.expr), src, func() *roaring64.Bitmap { asked = true; return uni })
		if !got.Equals(roaring64.BitmapOf(tc.want...)) || asked != tc.needsU {
			t.Errorf("%s: %v (universe asked: %v), want %v (%v)", tc.expr, got.ToArray(), asked, tc.want, tc.needsU)
		}
	}
}

func TestEstimate(t *testing.T) {
	counts := map[uint32]uint64{1: 100, 2: 10, 3: 0}
	c := func(l uint32) uint64 { return counts[l] }
	for _, tc := range []struct {
		expr string
		want float64
	}{
		{"1", 100},
		{"NOT 1", 900},
		{"1 AND 2", 1},
		{"1 OR 2", 109},
		{"3", 0},
		{"1 AND NOT 2", 99},
	} {
		if got := Estimate(MustParse(tc.expr), c, 1000); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("Estimate(%s) = %g, want %g", tc.expr, got, tc.want)
		}
	}
	if got := Estimate(MustParse("1"), c, 0); got != 0 {
		t.Errorf("Estimate over no ids = %g, want 0", got)
	}
}

func TestLabels(t *testing.T) {
	got := MustParse("3 AND (1 OR NOT 3) OR 2").Labels()
	if len(got) != 3 || got[0] != 3 || got[1] != 1 || got[2] != 2 {
		t.Fatalf("Labels = %v, want [3 1 2]", got)
	}
}

// FuzzParse: Parse never panics; what it accepts is valid, prints, and
// parses back to the same text.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1", "1 AND 2", "!(1|2)&3", "red OR NOT used", "((((1))))", "1 &&& 2", "NOT NOT NOT 0", "4294967295 | 0", ")", "(", "&", "color=red AND NOT \"size=x l\"", `"a\"b`, `"\\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s, names)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrUnknownLabel) {
				t.Fatalf("Parse(%q): error %v is neither ErrSyntax nor ErrUnknownLabel", s, err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("Parse(%q) returned an invalid expression: %v", s, err)
		}
		text := e.String()
		back, err := Parse(text, nil)
		if err != nil {
			t.Fatalf("Parse(%q) printed as %q, which does not parse: %v", s, text, err)
		}
		if back.String() != text {
			t.Fatalf("%q printed %q, parsed back and printed %q", s, text, back.String())
		}
		_ = Eval(e, mapSource{}, func() *roaring64.Bitmap { return roaring64.BitmapOf(1) })
		_ = Estimate(e, func(uint32) uint64 { return 1 }, 2)
	})
}
