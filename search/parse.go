package search

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/weftrace/weft/model"
)

// MaxDepth bounds how deeply a query may nest parentheses and NOTs, so that no text can exhaust the stack.
const MaxDepth = 64

// ParseError says where a query's text was wrong and what was expected there.
type ParseError struct {
	Offset int // byte offset into the text
	Column int // 1-based column in characters
	Msg    string
}

func (e *ParseError) Error() string { return fmt.Sprintf("search: column %d: %s", e.Column, e.Msg) }

// Parse reads a query in weft's search language (docs/query-language.md) into an Expr. Text that is empty or only
// blanks gives a nil Expr, which matches every span.
func Parse(text string) (Expr, error) {
	p := &parser{text: text}
	p.next()
	if p.err != nil {
		return nil, p.err
	}
	if p.tok.kind == tkEOF {
		return nil, nil
	}
	e := p.parseOr(0)
	if p.err == nil && p.tok.kind != tkEOF {
		p.fail(p.tok.pos, "expected AND, OR or the end of the query, found %s", p.tok.describe())
	}
	if p.err != nil {
		return nil, p.err
	}
	return e, nil
}

type tokKind uint8

const (
	tkEOF tokKind = iota
	tkWord
	tkString
	tkNumber
	tkOp
	tkLParen
	tkRParen
	tkAnd
	tkOr
	tkNot
)

type token struct {
	kind tokKind
	pos  int
	text string // raw text; for tkString the unquoted value
}

func (t token) describe() string {
	switch t.kind {
	case tkEOF:
		return "the end of the query"
	case tkString:
		return strconv.Quote(t.text) + " (a quoted string)"
	}
	return strconv.Quote(t.text)
}

type parser struct {
	text string
	off  int // next byte to lex
	tok  token
	err  *ParseError
}

func (p *parser) fail(pos int, format string, args ...any) {
	if p.err != nil {
		return
	}
	p.err = &ParseError{Offset: pos, Column: utf8.RuneCountInString(p.text[:pos]) + 1, Msg: fmt.Sprintf(format, args...)}
	p.tok = token{kind: tkEOF, pos: len(p.text)}
}

// next lexes one token into p.tok.
func (p *parser) next() {
	if p.err != nil {
		return
	}
	s := p.text
	for p.off < len(s) && (s[p.off] == ' ' || s[p.off] == '\t' || s[p.off] == '\n' || s[p.off] == '\r') {
		p.off++
	}
	start := p.off
	if start >= len(s) {
		p.tok = token{kind: tkEOF, pos: start}
		return
	}
	c := s[start]
	two := ""
	if start+1 < len(s) {
		two = s[start : start+2]
	}
	switch {
	case c == '(':
		p.off++
		p.tok = token{kind: tkLParen, pos: start, text: "("}
	case c == ')':
		p.off++
		p.tok = token{kind: tkRParen, pos: start, text: ")"}
	case two == "&&":
		p.off += 2
		p.tok = token{kind: tkAnd, pos: start, text: two}
	case two == "||":
		p.off += 2
		p.tok = token{kind: tkOr, pos: start, text: two}
	case two == "!=" || two == "!~" || two == "<=" || two == ">=" || two == "=~" || two == "==":
		p.off += 2
		p.tok = token{kind: tkOp, pos: start, text: two}
	case c == '!':
		p.off++
		p.tok = token{kind: tkNot, pos: start, text: "!"}
	case c == '=' || c == '<' || c == '>':
		p.off++
		p.tok = token{kind: tkOp, pos: start, text: s[start : start+1]}
	case c == '"':
		p.lexString(start)
	case c >= '0' && c <= '9' || (c == '-' || c == '+') && start+1 < len(s) && s[start+1] >= '0' && s[start+1] <= '9':
		p.lexNumber(start)
	case c == '.':
		p.off++
		p.lexWord(start)
	default:
		r, size := utf8.DecodeRuneInString(s[start:])
		if !isKeyStart(r) {
			if r == utf8.RuneError && size == 1 {
				p.fail(start, "invalid UTF-8 in the query")
			} else {
				p.fail(start, "unexpected character %q", r)
			}
			return
		}
		p.lexWord(start)
	}
}

func (p *parser) lexWord(start int) {
	s := p.text
	for p.off < len(s) {
		r, size := utf8.DecodeRuneInString(s[p.off:])
		if !isKeyChar(r) {
			break
		}
		p.off += size
	}
	w := s[start:p.off]
	kind := tkWord
	switch strings.ToLower(w) {
	case "and":
		kind = tkAnd
	case "or":
		kind = tkOr
	case "not":
		kind = tkNot
	}
	p.tok = token{kind: kind, pos: start, text: w}
}

func (p *parser) lexString(start int) {
	s := p.text
	i := start + 1
	for i < len(s) && s[i] != '"' {
		if s[i] == '\\' {
			i++
		}
		i++
	}
	if i >= len(s) {
		p.fail(start, "unterminated string: a closing \" is missing")
		return
	}
	if !utf8.ValidString(s[start : i+1]) {
		p.fail(start, "invalid UTF-8 in string")
		return
	}
	v, err := strconv.Unquote(s[start : i+1])
	if err != nil {
		p.fail(start, "bad string %s: use Go escapes (\\\" \\\\ \\n \\t \\u00e9)", s[start:i+1])
		return
	}
	p.off = i + 1
	p.tok = token{kind: tkString, pos: start, text: v}
}

func (p *parser) lexNumber(start int) {
	s := p.text
	p.off = start + 1
	for p.off < len(s) {
		r, size := utf8.DecodeRuneInString(s[p.off:])
		prev := s[p.off-1]
		if r == '.' || r == 'µ' || r == 'μ' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') ||
			((r == '+' || r == '-') && (prev == 'e' || prev == 'E')) {
			p.off += size
			continue
		}
		break
	}
	p.tok = token{kind: tkNumber, pos: start, text: s[start:p.off]}
}

func (p *parser) parseOr(depth int) Expr {
	first := p.parseAnd(depth)
	if p.tok.kind != tkOr {
		return first
	}
	xs := []Expr{first}
	for p.tok.kind == tkOr && p.err == nil {
		p.next()
		xs = append(xs, p.parseAnd(depth))
	}
	return &Or{Exprs: xs}
}

func (p *parser) parseAnd(depth int) Expr {
	first := p.parseUnary(depth)
	if p.tok.kind != tkAnd {
		return first
	}
	xs := []Expr{first}
	for p.tok.kind == tkAnd && p.err == nil {
		p.next()
		xs = append(xs, p.parseUnary(depth))
	}
	return &And{Exprs: xs}
}

func (p *parser) parseUnary(depth int) Expr {
	if depth >= MaxDepth {
		p.fail(p.tok.pos, "the query nests deeper than %d levels", MaxDepth)
		return nil
	}
	switch p.tok.kind {
	case tkNot:
		p.next()
		return &Not{Expr: p.parseUnary(depth + 1)}
	case tkLParen:
		open := p.tok.pos
		p.next()
		e := p.parseOr(depth + 1)
		if p.err == nil && p.tok.kind != tkRParen {
			p.fail(p.tok.pos, "expected ) to close the ( at column %d, found %s", utf8.RuneCountInString(p.text[:open])+1, p.tok.describe())
		}
		p.next()
		return e
	case tkWord:
		if strings.EqualFold(p.tok.text, "exists") {
			pos := p.tok.pos
			p.next()
			if p.tok.kind != tkLParen {
				p.fail(pos, "expected ( after exists, as in exists(http.method)")
				return nil
			}
			p.next()
			f, ok := p.parseField()
			if !ok {
				return nil
			}
			if p.tok.kind != tkRParen {
				p.fail(p.tok.pos, "expected ) after the field of exists(, found %s", p.tok.describe())
				return nil
			}
			p.next()
			return p.exists(f, pos)
		}
		return p.parseCondition()
	}
	p.fail(p.tok.pos, "expected a condition (a field, NOT or a parenthesis), found %s", p.tok.describe())
	return nil
}

func (p *parser) exists(f Field, pos int) Expr {
	if f.Scope == ScopeIntrinsic {
		if f.Name == FieldEvent {
			p.fail(pos, "compare event with a name (event = \"retry\", event =~ \"^weft\\\\.\"), or write .event for an attribute named event")
			return nil
		}
		p.fail(pos, "every span has %s; compare it (as in %s = ...), or write span.%s or .%s for an attribute named %s",
			f.Name, f.Name, f.Name, f.Name, f.Name)
		return nil
	}
	return &Exists{Field: f}
}

// parseField reads a field: an intrinsic, a bare attribute key, span.key, resource.key, .key, or any of the last
// three with a quoted key.
func (p *parser) parseField() (Field, bool) {
	if p.tok.kind != tkWord {
		p.fail(p.tok.pos, "expected a field (service, name, duration, status, kind or an attribute key), found %s", p.tok.describe())
		return Field{}, false
	}
	t, pos := p.tok.text, p.tok.pos
	if isKeyword(t) {
		p.fail(pos, "%s is a keyword; write .%s or span.%s for an attribute of that name", t, t, t)
		return Field{}, false
	}
	p.next()
	var f Field
	var rest string
	switch {
	case strings.HasPrefix(t, "."):
		f.Scope, rest = ScopeAny, t[1:]
	case strings.HasPrefix(t, "span."):
		f.Scope, rest = ScopeSpan, t[len("span."):]
	case strings.HasPrefix(t, "resource."):
		f.Scope, rest = ScopeResource, t[len("resource."):]
	default:
		if isIntrinsic(t) {
			return Intrinsic(t), true
		}
		f.Scope, rest = ScopeAny, t
	}
	if rest == "" {
		if p.tok.kind != tkString || p.tok.pos != pos+len(t) {
			p.fail(pos+len(t), "expected an attribute key after %q", t)
			return Field{}, false
		}
		if p.tok.text == "" {
			p.fail(p.tok.pos, "an attribute key cannot be empty")
			return Field{}, false
		}
		f.Name = p.tok.text
		p.next()
		return f, true
	}
	if strings.HasSuffix(rest, ".") {
		p.fail(pos, "attribute key %q ends with a dot; quote it, as in %s\"%s\"", rest, t[:len(t)-len(rest)], rest)
		return Field{}, false
	}
	f.Name = rest
	return f, true
}

func (p *parser) parseCondition() Expr {
	pos := p.tok.pos
	f, ok := p.parseField()
	if !ok {
		return nil
	}
	switch {
	case p.tok.kind == tkWord && strings.EqualFold(p.tok.text, "exists"):
		p.next()
		return p.exists(f, pos)
	case p.tok.kind != tkOp:
		// A bare attribute key tests presence.
		return p.exists(f, pos)
	}
	opTok := p.tok
	p.next()
	if opTok.text == "=~" || opTok.text == "!~" {
		return p.regex(f, opTok)
	}
	var op Op
	switch opTok.text {
	case "=", "==":
		op = OpEq
	case "!=":
		op = OpNe
	case "<":
		op = OpLt
	case "<=":
		op = OpLe
	case ">":
		op = OpGt
	case ">=":
		op = OpGe
	}
	v, ok := p.value(f, op)
	if !ok {
		return nil
	}
	return &Compare{Field: f, Op: op, Value: v}
}

func (p *parser) regex(f Field, opTok token) Expr {
	if f.Scope == ScopeIntrinsic && f.Name == FieldDuration {
		p.fail(opTok.pos, "duration cannot be matched with a regular expression; use < or >")
		return nil
	}
	if p.tok.kind != tkString {
		p.fail(p.tok.pos, "expected a quoted regular expression after %s, found %s", opTok.text, p.tok.describe())
		return nil
	}
	re, err := regexp.Compile(p.tok.text)
	if err != nil {
		p.fail(p.tok.pos, "bad regular expression: %v", err)
		return nil
	}
	p.next()
	return &Regex{Field: f, Re: re, Negate: opTok.text == "!~"}
}

// value reads the literal after an operator and checks that it suits the field.
func (p *parser) value(f Field, op Op) (model.Value, bool) {
	t := p.tok
	var v model.Value
	isDuration := false
	switch t.kind {
	case tkString:
		v = model.String(t.text)
	case tkWord:
		switch strings.ToLower(t.text) {
		case "true":
			v = model.Bool(true)
		case "false":
			v = model.Bool(false)
		default:
			if strings.HasPrefix(t.text, ".") {
				p.fail(t.pos, "expected a value, found %s", t.describe())
				return v, false
			}
			v = model.String(t.text)
		}
	case tkNumber:
		if i, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			v = model.Int(i)
		} else if fl, err := strconv.ParseFloat(t.text, 64); err == nil && !strings.ContainsAny(t.text, "xXpP_nNiI") {
			v = model.Float(fl)
		} else if d, err := time.ParseDuration(strings.ReplaceAll(t.text, "μ", "µ")); err == nil {
			v, isDuration = model.Int(int64(d)), true
		} else {
			p.fail(t.pos, "%q is not a number or a duration (like 42, 1.5, 150ms or 2s)", t.text)
			return v, false
		}
	default:
		p.fail(t.pos, "expected a value after %s, found %s", op, t.describe())
		return v, false
	}
	if f.Scope == ScopeIntrinsic {
		switch f.Name {
		case FieldService, FieldName, FieldEvent:
			if v.Type != model.TypeString {
				p.fail(t.pos, "%s compares with a string; quote it, as in %s = \"%s\"", f.Name, f.Name, t.text)
				return v, false
			}
		case FieldDuration:
			if !isDuration && !(v.Type == model.TypeInt && v.Int() == 0) {
				p.fail(t.pos, "duration compares with a duration that has a unit, like 150ms, 2s or 1m30s; found %s", t.describe())
				return v, false
			}
		case FieldStatus, FieldKind:
			if op != OpEq && op != OpNe {
				p.fail(t.pos, "%s takes only = and !=", f.Name)
				return v, false
			}
			name := strings.ToLower(v.AsString())
			if f.Name == FieldStatus && name != "unset" && name != "ok" && name != "error" {
				p.fail(t.pos, "status is unset, ok or error, not %s", t.describe())
				return v, false
			}
			if f.Name == FieldKind && (model.ParseKind(name) == model.KindUnspecified && name != "unspecified" || v.Type != model.TypeString) {
				p.fail(t.pos, "kind is server, client, producer, consumer, internal or unspecified, not %s", t.describe())
				return v, false
			}
			v = model.String(name)
		}
	} else if v.Type == model.TypeBool && op != OpEq && op != OpNe {
		p.fail(t.pos, "true and false take only = and !=")
		return v, false
	}
	p.next()
	return v, true
}
