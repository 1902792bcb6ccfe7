package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The text syntax, for the CLI and the server:
//
//	expr   = term { OR term }
//	term   = factor { AND factor }
//	factor = NOT factor | "(" expr ")" | label
//	label  = number | name | quoted
//
//	OR     = "OR"  | "|" | "||"      (keywords in any case)
//	AND    = "AND" | "&" | "&&"
//	NOT    = "NOT" | "!"
//	number = decimal digits: the label id itself, 0 to 4294967295
//	name   = a run of bytes other than white space and ( ) " & | !,
//	         not all digits and not a keyword (color=red, size>=3,
//	         é=ü): a label name, turned into its id by the caller's
//	         Names
//	quoted = '"' { any byte but '"' and '\' | '\"' | '\\' } '"':
//	         a name with spaces, parentheses, quotes or any of the
//	         above ("size=x l", "AND"); all digits, it is a number
//
// NOT binds tightest, then AND, then OR. Tokens may be separated by
// white space, and must be where they would run together (`red AND
// large`, `red&large`). Examples: `3`, `3 AND NOT 7`, `!7 & (1 | 2)`,
// `red AND (large OR NOT used)`, `color=red AND NOT "size=x l"`.
// Nesting is limited to MaxDepth.

// Parse errors; test with errors.Is.
var (
	// ErrSyntax reports text that is not an expression; the message says
	// where (a byte offset) and what was expected.
	ErrSyntax = errors.New("filter: syntax error")
	// ErrUnknownLabel reports a label name that Names does not know (or
	// a name given to Parse with nil Names).
	ErrUnknownLabel = errors.New("filter: unknown label")
)

// Names turns a label name into its id; ok is false for an unknown name.
type Names func(name string) (id uint32, ok bool)

// Parse parses text in the syntax above. names resolves label names; nil
// allows numbers only.
func Parse(text string, names Names) (*Expr, error) {
	p := &parser{s: text, names: names}
	p.next()
	e, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.tok != tokEOF {
		return nil, p.errorf("expected AND, OR or the end, found %s", p.describe())
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	return e, nil
}

// MustParse is Parse with nil Names that panics on error, for tests and
// constant expressions.
func MustParse(text string) *Expr {
	e, err := Parse(text, nil)
	if err != nil {
		panic(err)
	}
	return e
}

type token uint8

const (
	tokEOF token = iota
	tokAnd
	tokOr
	tokNot
	tokLParen
	tokRParen
	tokNumber
	tokName
	tokBad
)

type parser struct {
	s     string
	names Names
	pos   int // next byte to scan
	tok   token
	start int    // offset of tok
	text  string // tok's text
}

// next scans the next token into p.tok.
func (p *parser) next() {
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
	p.start = p.pos
	if p.pos == len(p.s) {
		p.tok, p.text = tokEOF, ""
		return
	}
	c := p.s[p.pos]
	two := func(tok token) {
		p.pos++
		if p.pos < len(p.s) && p.s[p.pos] == c {
			p.pos++
		}
		p.tok = tok
	}
	switch {
	case c == '&':
		two(tokAnd)
	case c == '|':
		two(tokOr)
	case c == '!':
		p.pos++
		p.tok = tokNot
	case c == '(':
		p.pos++
		p.tok = tokLParen
	case c == ')':
		p.pos++
		p.tok = tokRParen
	case c == '"':
		p.quoted()
		return
	case isNameByte(c):
		for p.pos < len(p.s) && isNameByte(p.s[p.pos]) {
			p.pos++
		}
		p.tok, p.text = tokName, p.s[p.start:p.pos]
		switch {
		case isNumber(p.text):
			p.tok = tokNumber
		case strings.EqualFold(p.text, "AND"):
			p.tok = tokAnd
		case strings.EqualFold(p.text, "OR"):
			p.tok = tokOr
		case strings.EqualFold(p.text, "NOT"):
			p.tok = tokNot
		}
		return
	default:
		p.pos++
		p.tok = tokBad
	}
	p.text = p.s[p.start:p.pos]
}

func (p *parser) expr(depth int) (*Expr, error) {
	t, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	if p.tok != tokOr {
		return t, nil
	}
	args := []*Expr{t}
	for p.tok == tokOr {
		p.next()
		t, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		args = append(args, t)
	}
	return Or(args...), nil
}

func (p *parser) term(depth int) (*Expr, error) {
	f, err := p.factor(depth)
	if err != nil {
		return nil, err
	}
	if p.tok != tokAnd {
		return f, nil
	}
	args := []*Expr{f}
	for p.tok == tokAnd {
		p.next()
		f, err := p.factor(depth)
		if err != nil {
			return nil, err
		}
		args = append(args, f)
	}
	return And(args...), nil
}

func (p *parser) factor(depth int) (*Expr, error) {
	if depth >= MaxDepth {
		return nil, p.errorf("nested deeper than %d", MaxDepth)
	}
	switch p.tok {
	case tokNot:
		p.next()
		x, err := p.factor(depth + 1)
		if err != nil {
			return nil, err
		}
		return Not(x), nil
	case tokLParen:
		open := p.start
		p.next()
		x, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok != tokRParen {
			return nil, p.errorf("expected ) to close the ( at offset %d, found %s", open, p.describe())
		}
		p.next()
		return x, nil
	case tokNumber:
		id, err := strconv.ParseUint(p.text, 10, 32)
		if err != nil {
			return nil, p.errorf("label number %q is not a uint32", p.text)
		}
		p.next()
		return Label(uint32(id)), nil
	case tokName:
		if p.names == nil {
			return nil, fmt.Errorf("%w %q at offset %d (no label names known: use numbers)", ErrUnknownLabel, p.text, p.start)
		}
		id, ok := p.names(p.text)
		if !ok {
			return nil, fmt.Errorf("%w %q at offset %d", ErrUnknownLabel, p.text, p.start)
		}
		p.next()
		return Label(id), nil
	}
	return nil, p.errorf("expected a label, NOT or (, found %s", p.describe())
}

// describe names the current token for an error message.
func (p *parser) describe() string {
	switch p.tok {
	case tokEOF:
		return "the end"
	case tokBad:
		if strings.HasPrefix(p.text, `"`) {
			return "an unterminated quoted name"
		}
		return fmt.Sprintf("%q", p.text)
	}
	return strconv.Quote(p.text)
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", ErrSyntax, p.start, fmt.Sprintf(format, args...))
}

// quoted scans a quoted name (p.s[p.pos] is its opening quote) into
// p.tok and p.text (unescaped); an unterminated one is tokBad.
func (p *parser) quoted() {
	var b strings.Builder
	for i := p.pos + 1; i < len(p.s); i++ {
		switch c := p.s[i]; c {
		case '"':
			p.pos = i + 1
			p.tok, p.text = tokName, b.String()
			if isNumber(p.text) {
				p.tok = tokNumber
			}
			return
		case '\\':
			if i+1 < len(p.s) && (p.s[i+1] == '"' || p.s[i+1] == '\\') {
				i++
				b.WriteByte(p.s[i])
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	p.pos = len(p.s)
	p.tok, p.text = tokBad, p.s[p.start:]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isNameByte reports whether c may be part of an unquoted name.
func isNameByte(c byte) bool {
	switch c {
	case '(', ')', '"', '&', '|', '!':
		return false
	}
	return !isSpace(c)
}

// isNumber reports whether s is all digits (a label id, not a name).
func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
