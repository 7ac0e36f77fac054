package embedded

import (
	"strconv"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/wal"
)

// needs are strings a head's record must hold in its string table (wal.EachString) for a span of it to match a
// search: the record must hold, for every need, at least one of its strings. A span's service, name, event names,
// attribute keys and string values are all in its record's table, so a record lacking a need is passed over
// without decoding a span of it. A search for a service, an operation or an attribute value that is rare in the
// heads (or absent: a search that matches nothing) then reads only the records that may hold it, and one that
// names no string (a duration, a kind, a regular expression on the name) reads them all, as before.
type needs [][]string

// needsOf is what a record must hold for one of its spans to match q (see search.Query.MatchSpan); nil when it
// need hold nothing in particular.
func needsOf(q *search.Query) needs {
	var n needs
	if q.Service != "" {
		n = append(n, []string{q.Service})
	}
	if q.Operation != "" {
		n = append(n, []string{q.Operation})
	}
	if q.Expr != nil {
		n = append(n, exprNeeds(q.Expr)...)
	}
	return n
}

// exprNeeds is what a record must hold for one of its spans to match e.
func exprNeeds(e search.Expr) needs {
	switch x := e.(type) {
	case *search.And:
		var n needs
		for _, x := range x.Exprs {
			n = append(n, exprNeeds(x)...)
		}
		return n
	case *search.Or:
		// A span matching the alternatives matches one of them, and so holds one of that one's needs: any need
		// of each alternative, together, make one need of the whole. The one with fewest strings is taken.
		var any []string
		for _, x := range x.Exprs {
			n := exprNeeds(x)
			if len(n) == 0 {
				return nil
			}
			least := n[0]
			for _, s := range n[1:] {
				if len(s) < len(least) {
					least = s
				}
			}
			any = append(any, least...)
		}
		if len(any) == 0 {
			return nil
		}
		return needs{any}
	case *search.Exists:
		return keyNeeds(x.Field)
	case *search.Regex:
		return keyNeeds(x.Field)
	case *search.Compare:
		if x.Field.Scope == search.ScopeIntrinsic {
			// The service, the name and the events' names are strings, compared as text with a string literal.
			switch x.Field.Name {
			case search.FieldService, search.FieldName, search.FieldEvent:
				if x.Op == search.OpEq && x.Value.Type == model.TypeString {
					return needs{{x.Value.Str}}
				}
			}
			return nil
		}
		n := keyNeeds(x.Field)
		if x.Op == search.OpEq && onlyText(x) {
			n = append(n, []string{x.Value.Str})
		}
		return n
	}
	return nil // Not, and what is yet to come
}

// keyNeeds is what a record must hold for one of its spans to have the attribute f: its key, but for
// service.name, which a span's resource holds as its service (in the table, but not under its key), and for the
// intrinsics, which every span has.
func keyNeeds(f search.Field) needs {
	if f.Scope == search.ScopeIntrinsic || f.Name == "service.name" && f.Scope != search.ScopeSpan {
		return nil
	}
	return needs{{f.Name}}
}

// onlyText reports whether the equality c is met only by a string value equal to its literal, which then is in
// the record's table: a string literal that is not the text (model.Value.AsString, which search.Compare compares
// a string literal with) of a number, a bool, an array or a map.
func onlyText(c *search.Compare) bool {
	if c.Value.Type != model.TypeString {
		return false
	}
	s := c.Value.Str
	if s == "true" || s == "false" || s != "" && (s[0] == '[' || s[0] == '{') {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err != nil && !isRange(err)
}

// isRange reports whether err is strconv's out-of-range error: the text was a number, too large for a float.
func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// admit reports whether the encoded batch may hold a span matching the search n was made for: whether its string
// table holds every need. A malformed table admits the record, which decoding then reports.
func (n needs) admit(batch []byte) bool {
	if len(n) == 0 {
		return true
	}
	var met uint64 // bit i: need i is met (needs past 64 are not checked)
	all := uint64(1)<<min(len(n), 64) - 1
	if len(n) >= 64 {
		all = ^uint64(0)
	}
	ok := wal.EachString(batch, func(b []byte) bool {
		for i, alts := range n[:min(len(n), 64)] {
			if met&(1<<i) != 0 {
				continue
			}
			for _, s := range alts {
				if len(s) == len(b) && string(b) == s {
					met |= 1 << i
					break
				}
			}
		}
		return met != all
	})
	return !ok || met == all
}
