// Package filter holds label filter expressions for filtered search: an
// expression tree over per-vector labels (uint32 ids) combined with AND,
// OR and NOT; a small text syntax with its parser (parse.go); and their
// evaluation over label bitmaps into the set of ids they select, with a
// cardinality estimate (eval.go).
//
// Package filter knows nothing of indexes: the caller supplies the label
// bitmaps (Source) and the universe that NOT complements against.
package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Op is the kind of an expression node.
type Op uint8

// Node kinds.
const (
	// OpLabel selects the vectors that carry label Expr.Label.
	OpLabel Op = iota + 1
	// OpAnd selects the vectors every argument selects.
	OpAnd
	// OpOr selects the vectors some argument selects.
	OpOr
	// OpNot selects the vectors (of the universe) its one argument does
	// not.
	OpNot
)

// MaxDepth bounds the nesting of an expression (Validate, Parse), so that
// evaluating or printing one never exhausts the stack.
const MaxDepth = 64

// ErrInvalid reports an expression tree that is not well formed (Validate).
var ErrInvalid = errors.New("filter: invalid expression")

// Expr is a filter expression. Build one with Label, And, Or and Not, or
// with Parse. An Expr is never modified by this package: one value may be
// shared by concurrent searches.
type Expr struct {
	Op    Op
	Label uint32  // OpLabel only
	Args  []*Expr // OpAnd, OpOr: one or more; OpNot: exactly one
}

// Label returns the expression selecting the vectors with label id.
func Label(id uint32) *Expr { return &Expr{Op: OpLabel, Label: id} }

// And returns the conjunction of xs (at least one).
func And(xs ...*Expr) *Expr { return &Expr{Op: OpAnd, Args: xs} }

// Or returns the disjunction of xs (at least one).
func Or(xs ...*Expr) *Expr { return &Expr{Op: OpOr, Args: xs} }

// Not returns the complement of x.
func Not(x *Expr) *Expr { return &Expr{Op: OpNot, Args: []*Expr{x}} }

// Validate reports whether e is a well-formed tree: no nil nodes, known
// ops with the right number of arguments, depth at most MaxDepth.
func (e *Expr) Validate() error { return e.validate(1) }

func (e *Expr) validate(depth int) error {
	switch {
	case e == nil:
		return fmt.Errorf("%w: nil node", ErrInvalid)
	case depth > MaxDepth:
		return fmt.Errorf("%w: nested deeper than %d", ErrInvalid, MaxDepth)
	}
	switch e.Op {
	case OpLabel:
		if len(e.Args) != 0 {
			return fmt.Errorf("%w: label %d has arguments", ErrInvalid, e.Label)
		}
		return nil
	case OpAnd, OpOr:
		if len(e.Args) == 0 {
			return fmt.Errorf("%w: %s of nothing", ErrInvalid, e.Op)
		}
	case OpNot:
		if len(e.Args) != 1 {
			return fmt.Errorf("%w: NOT of %d arguments", ErrInvalid, len(e.Args))
		}
	default:
		return fmt.Errorf("%w: op %d", ErrInvalid, e.Op)
	}
	for _, a := range e.Args {
		if err := a.validate(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// String returns the op's name in the text syntax.
func (o Op) String() string {
	switch o {
	case OpLabel:
		return "label"
	case OpAnd:
		return "AND"
	case OpOr:
		return "OR"
	case OpNot:
		return "NOT"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// String returns e in the text syntax with labels as numbers, fully
// parenthesised where precedence needs it: Parse(e.String(), nil)
// returns an expression that selects the same vectors.
func (e *Expr) String() string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}

func (e *Expr) write(b *strings.Builder) {
	if e == nil {
		b.WriteString("<nil>")
		return
	}
	switch e.Op {
	case OpLabel:
		b.WriteString(strconv.FormatUint(uint64(e.Label), 10))
	case OpNot:
		b.WriteString("NOT ")
		e.writeArg(b, e.Args[0], OpNot)
	case OpAnd, OpOr:
		for i, a := range e.Args {
			if i > 0 {
				b.WriteByte(' ')
				b.WriteString(e.Op.String())
				b.WriteByte(' ')
			}
			e.writeArg(b, a, e.Op)
		}
	default:
		fmt.Fprintf(b, "<%s>", e.Op)
	}
}

// writeArg writes a, an argument of a node of op parent, in parentheses
// unless it binds tighter than parent.
func (e *Expr) writeArg(b *strings.Builder, a *Expr, parent Op) {
	tight := a == nil || a.Op == OpLabel || a.Op == OpNot || (a.Op == OpAnd && parent == OpOr)
	if tight {
		a.write(b)
		return
	}
	b.WriteByte('(')
	a.write(b)
	b.WriteByte(')')
}

// Labels returns the distinct labels e names, in first-use order.
func (e *Expr) Labels() []uint32 {
	var out []uint32
	seen := make(map[uint32]bool)
	var walk func(*Expr)
	walk = func(x *Expr) {
		if x == nil {
			return
		}
		if x.Op == OpLabel && !seen[x.Label] {
			seen[x.Label] = true
			out = append(out, x.Label)
		}
		for _, a := range x.Args {
			walk(a)
		}
	}
	walk(e)
	return out
}
