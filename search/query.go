// Package search is weft's span query language and the search request that stores answer. It sits upstream of
// the stores (which evaluate and index it) and of the query APIs (which parse users' text into it).
//
// A trace matches a Query when at least one of its spans satisfies every condition of the Query: the service,
// operation, kind, duration bounds and Expr all hold for that one span (Jaeger's semantics), and the span started
// within [Start, End].
package search

import "github.com/weftrace/weft/model"

// Query is one search request.
type Query struct {
	Service     string     // exact service name; "" for any
	Operation   string     // exact span name; "" for any
	Kind        model.Kind // KindUnspecified for any
	Expr        Expr       // nil matches every span
	MinDuration int64      // nanoseconds; 0 for no bound
	MaxDuration int64      // nanoseconds; 0 for no bound
	Start       int64      // Unix nanoseconds, inclusive; 0 for no bound
	End         int64      // Unix nanoseconds, inclusive; 0 for no bound
	Limit       int        // maximum traces; 0 means the store's default (20)
}

// Expr is a parsed condition on one span. Stores may inspect the concrete node types (see the parser) to use an
// index, but Match is always the reference answer.
type Expr interface {
	Match(s *model.Span) bool
	String() string // the canonical text, which Parse reads back to an equal Expr
}

// MatchSpan reports whether one span satisfies every condition of q except the trace-level limit.
func (q *Query) MatchSpan(s *model.Span) bool {
	if q.Service != "" && s.Service() != q.Service {
		return false
	}
	if q.Operation != "" && s.Name != q.Operation {
		return false
	}
	if q.Kind != model.KindUnspecified && s.Kind != q.Kind {
		return false
	}
	if q.MinDuration > 0 && s.Duration < q.MinDuration {
		return false
	}
	if q.MaxDuration > 0 && s.Duration > q.MaxDuration {
		return false
	}
	if q.Start != 0 && s.Start < q.Start {
		return false
	}
	if q.End != 0 && s.Start > q.End {
		return false
	}
	return q.Expr == nil || q.Expr.Match(s)
}
