package search

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/weftrace/weft/model"
)

// Scope says where a Field's value comes from.
type Scope uint8

const (
	// ScopeIntrinsic is one of the span's own fields: service, name, duration, status or kind.
	ScopeIntrinsic Scope = iota
	// ScopeAny is an attribute of the span or of its resource (written bare, or with a leading dot).
	ScopeAny
	// ScopeSpan is an attribute of the span only (written span.key).
	ScopeSpan
	// ScopeResource is an attribute of the span's resource only (written resource.key).
	ScopeResource
)

// The intrinsic field names.
const (
	FieldService  = "service"
	FieldName     = "name"
	FieldDuration = "duration"
	FieldStatus   = "status"
	FieldKind     = "kind"
	// FieldEvent is the name of any of the span's events: event = "retry" finds a span with an event so named.
	FieldEvent = "event"
)

func isIntrinsic(name string) bool {
	switch name {
	case FieldService, FieldName, FieldDuration, FieldStatus, FieldKind, FieldEvent:
		return true
	}
	return false
}

// Field is what a condition looks at: an intrinsic field of the span or an attribute by key.
type Field struct {
	Scope Scope
	Name  string // the intrinsic's name or the attribute key
}

// Intrinsic returns the Field for an intrinsic name (service, name, duration, status, kind).
func Intrinsic(name string) Field { return Field{Scope: ScopeIntrinsic, Name: name} }

// Attribute returns the Field for an attribute key of the span or its resource.
func Attribute(key string) Field { return Field{Scope: ScopeAny, Name: key} }

// String is the field as the language writes it.
func (f Field) String() string {
	switch f.Scope {
	case ScopeIntrinsic:
		return f.Name
	case ScopeSpan:
		return "span." + keyText(f.Name)
	case ScopeResource:
		return "resource." + keyText(f.Name)
	}
	if isBareKey(f.Name) && !isIntrinsic(f.Name) && !isKeyword(f.Name) &&
		!strings.HasPrefix(f.Name, "span.") && !strings.HasPrefix(f.Name, "resource.") {
		return f.Name
	}
	return "." + keyText(f.Name)
}

// keyText writes a key bare when it can be read back bare, quoted otherwise.
func keyText(k string) string {
	if isBareKey(k) {
		return k
	}
	return strconv.Quote(k)
}

func isKeyStart(r rune) bool {
	return r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || (r > 0x7f && unicode.IsLetter(r))
}

func isKeyChar(r rune) bool {
	return isKeyStart(r) || ('0' <= r && r <= '9') || r == '.' || r == '-' || r == '/'
}

// isBareKey reports whether k lexes as one key token with nothing left over.
func isBareKey(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		if i == 0 && !isKeyStart(r) || !isKeyChar(r) {
			return false
		}
	}
	// A key ending in a dot would be read as scope + key.
	return !strings.HasSuffix(k, ".")
}

func isKeyword(w string) bool {
	switch strings.ToLower(w) {
	case "and", "or", "not", "exists", "true", "false":
		return true
	}
	return false
}

// Op is a comparison operator.
type Op uint8

const (
	OpEq Op = iota // =
	OpNe           // !=
	OpLt           // <
	OpLe           // <=
	OpGt           // >
	OpGe           // >=
)

var opText = [...]string{"=", "!=", "<", "<=", ">", ">="}

// String is the operator as written.
func (o Op) String() string {
	if int(o) < len(opText) {
		return opText[o]
	}
	return "?"
}

// And matches a span that satisfies every one of Exprs.
type And struct{ Exprs []Expr }

// Or matches a span that satisfies at least one of Exprs.
type Or struct{ Exprs []Expr }

// Not matches a span that does not satisfy Expr.
type Not struct{ Expr Expr }

// Compare matches a span whose Field compares with Value by Op. For an attribute, the span must have the
// attribute (so != and < never match a span without it), and Value is compared with each value the span holds
// under that key (its own and its resource's, for ScopeAny): numbers numerically, strings as text, a string
// Value with the text of any attribute. For the intrinsics, Value is a string (service, name, status, kind) or an
// int of nanoseconds (duration).
type Compare struct {
	Field Field
	Op    Op
	Value model.Value
}

// Exists matches a span that has the attribute Field.
type Exists struct{ Field Field }

// Regex matches a span whose Field, as text, contains a match of the RE2 expression Re (=~), or, with Negate, an
// attribute that is present and has no match (!~). Anchor with ^ and $ to match the whole text.
type Regex struct {
	Field  Field
	Re     *regexp.Regexp
	Negate bool
}

// Match implements Expr.
func (e *And) Match(s *model.Span) bool {
	for _, x := range e.Exprs {
		if !x.Match(s) {
			return false
		}
	}
	return true
}

// Match implements Expr.
func (e *Or) Match(s *model.Span) bool {
	for _, x := range e.Exprs {
		if x.Match(s) {
			return true
		}
	}
	return false
}

// Match implements Expr.
func (e *Not) Match(s *model.Span) bool { return !e.Expr.Match(s) }

// Match implements Expr.
func (e *Exists) Match(s *model.Span) bool {
	found := false
	eachValue(s, e.Field, func(model.Value) bool { found = true; return true })
	return found
}

// Match implements Expr.
func (e *Regex) Match(s *model.Span) bool {
	found := false
	if e.Field.Scope == ScopeIntrinsic {
		eachIntrinsic(s, e.Field.Name, func(v model.Value) bool {
			found = e.Re.MatchString(intrinsicText(e.Field.Name, v)) != e.Negate
			return found
		})
		return found
	}
	eachValue(s, e.Field, func(v model.Value) bool {
		found = e.Re.MatchString(v.AsString()) != e.Negate
		return found
	})
	return found
}

// Match implements Expr.
func (e *Compare) Match(s *model.Span) bool {
	found := false
	if e.Field.Scope == ScopeIntrinsic {
		eachIntrinsic(s, e.Field.Name, func(v model.Value) bool {
			found = compare(v, e.Op, e.Value)
			return found
		})
		return found
	}
	eachValue(s, e.Field, func(v model.Value) bool {
		found = compare(v, e.Op, e.Value)
		return found
	})
	return found
}

// eachIntrinsic calls f with the span's values of an intrinsic field (one, or one per event for event) until f
// returns true.
func eachIntrinsic(s *model.Span, name string, f func(model.Value) bool) {
	switch name {
	case FieldService:
		f(model.String(s.Service()))
	case FieldName:
		f(model.String(s.Name))
	case FieldDuration:
		f(model.Int(s.Duration))
	case FieldStatus:
		f(model.String(s.StatusCode.String()))
	case FieldKind:
		f(model.String(s.Kind.String()))
	case FieldEvent:
		for i := range s.Events {
			if f(model.String(s.Events[i].Name)) {
				return
			}
		}
	}
}

func intrinsicText(name string, v model.Value) string {
	if name == FieldDuration {
		return time.Duration(v.Int()).String()
	}
	return v.AsString()
}

// eachValue calls f with every value s holds for the attribute field f, until f returns true. The resource's
// service.name, which receivers keep in Resource.Service, counts as a resource attribute.
func eachValue(s *model.Span, fd Field, f func(model.Value) bool) {
	if fd.Scope == ScopeSpan || fd.Scope == ScopeAny {
		for i := range s.Attrs {
			if s.Attrs[i].Key == fd.Name && f(s.Attrs[i].Value) {
				return
			}
		}
	}
	if (fd.Scope == ScopeResource || fd.Scope == ScopeAny) && s.Resource != nil {
		if fd.Name == "service.name" && s.Resource.Service != "" && f(model.String(s.Resource.Service)) {
			return
		}
		for i := range s.Resource.Attrs {
			if s.Resource.Attrs[i].Key == fd.Name && f(s.Resource.Attrs[i].Value) {
				return
			}
		}
	}
}

// compare applies op to a span's value v and the query's literal lit.
func compare(v model.Value, op Op, lit model.Value) bool {
	var c int
	switch lit.Type {
	case model.TypeString:
		if v.Type == model.TypeString {
			c = strings.Compare(v.Str, lit.Str)
		} else if op == OpEq || op == OpNe {
			c = strings.Compare(v.AsString(), lit.Str)
		} else {
			return false
		}
	case model.TypeInt, model.TypeFloat:
		n, ok := number(v)
		if !ok {
			return false
		}
		if lit.Type == model.TypeInt && n.Type == model.TypeInt {
			c = cmpInt(n.Int(), lit.Int())
		} else {
			a, b := n.Float(), lit.Float()
			if math.IsNaN(a) {
				return false
			}
			c = cmpFloat(a, b)
		}
	case model.TypeBool:
		var b bool
		switch v.Type {
		case model.TypeBool:
			b = v.Bool()
		case model.TypeString:
			var err error
			if b, err = strconv.ParseBool(v.Str); err != nil {
				return false
			}
		default:
			return false
		}
		if op != OpEq && op != OpNe {
			return false
		}
		if b == lit.Bool() {
			c = 0
		} else {
			c = 1
		}
	default:
		return false
	}
	switch op {
	case OpEq:
		return c == 0
	case OpNe:
		return c != 0
	case OpLt:
		return c < 0
	case OpLe:
		return c <= 0
	case OpGt:
		return c > 0
	case OpGe:
		return c >= 0
	}
	return false
}

// number reads v as a number: ints and floats as they are, strings holding a number parsed.
func number(v model.Value) (model.Value, bool) {
	switch v.Type {
	case model.TypeInt, model.TypeFloat:
		return v, true
	case model.TypeString:
		if i, err := strconv.ParseInt(v.Str, 10, 64); err == nil {
			return model.Int(i), true
		}
		if f, err := strconv.ParseFloat(v.Str, 64); err == nil {
			return model.Float(f), true
		}
	}
	return model.Value{}, false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// String implements Expr.
func (e *And) String() string { return joinExprs(e.Exprs, " AND ") }

// String implements Expr.
func (e *Or) String() string { return joinExprs(e.Exprs, " OR ") }

// String implements Expr.
func (e *Not) String() string { return "NOT " + operand(e.Expr) }

// String implements Expr.
func (e *Exists) String() string { return e.Field.String() }

// String implements Expr.
func (e *Regex) String() string {
	op := " =~ "
	if e.Negate {
		op = " !~ "
	}
	return e.Field.String() + op + strconv.Quote(e.Re.String())
}

// String implements Expr.
func (e *Compare) String() string {
	return e.Field.String() + " " + e.Op.String() + " " + literalText(e.Field, e.Value)
}

func joinExprs(xs []Expr, sep string) string {
	var b strings.Builder
	for i, x := range xs {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(operand(x))
	}
	return b.String()
}

// operand parenthesises compound expressions so that the text parses back to the same tree.
func operand(x Expr) string {
	switch x.(type) {
	case *And, *Or:
		return "(" + x.String() + ")"
	}
	return x.String()
}

func literalText(f Field, v model.Value) string {
	if f.Scope == ScopeIntrinsic {
		switch f.Name {
		case FieldDuration:
			return time.Duration(v.Int()).String()
		case FieldStatus, FieldKind:
			return v.Str
		}
	}
	switch v.Type {
	case model.TypeString:
		return strconv.Quote(v.Str)
	case model.TypeInt:
		return strconv.FormatInt(v.Int(), 10)
	case model.TypeFloat:
		s := strconv.FormatFloat(v.Float(), 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") { // keep it a float when read back
			s += ".0"
		}
		return s
	case model.TypeBool:
		return strconv.FormatBool(v.Bool())
	}
	return `""`
}

// Equal reports whether two expressions are the same tree.
func Equal(a, b Expr) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	switch x := a.(type) {
	case *And:
		y, ok := b.(*And)
		return ok && equalList(x.Exprs, y.Exprs)
	case *Or:
		y, ok := b.(*Or)
		return ok && equalList(x.Exprs, y.Exprs)
	case *Not:
		y, ok := b.(*Not)
		return ok && Equal(x.Expr, y.Expr)
	case *Exists:
		y, ok := b.(*Exists)
		return ok && x.Field == y.Field
	case *Regex:
		y, ok := b.(*Regex)
		return ok && x.Field == y.Field && x.Negate == y.Negate && x.Re.String() == y.Re.String()
	case *Compare:
		y, ok := b.(*Compare)
		return ok && x.Field == y.Field && x.Op == y.Op && x.Value.Equal(y.Value)
	}
	return false
}

func equalList(a, b []Expr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
