// Package store defines what every span store offers: the embedded store (store/embedded) that weft runs on by
// default, and the ClickHouse store for more than one machine. The write-ahead log sits upstream of it; the query
// APIs and the analysis read through Reader.
package store

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
)

// ErrNotFound is returned by Trace for an ID the store does not hold.
var ErrNotFound = errors.New("trace not found")

// Writer takes spans that are already durable in the write-ahead log. Spans of one trace may arrive in many
// calls, minutes apart, and in any order.
type Writer interface {
	Write(ctx context.Context, spans []*model.Span) error
}

// Reader answers the query APIs and the analysis. Spans returned are shared and must not be modified.
type Reader interface {
	// Trace returns every span of one trace, in no particular order, or ErrNotFound.
	Trace(ctx context.Context, id model.TraceID) ([]*model.Span, error)
	// Traces returns the spans of many traces at once (missing IDs are simply absent from the map).
	Traces(ctx context.Context, ids []model.TraceID) (map[model.TraceID][]*model.Span, error)
	// FindTraces answers a search, newest traces first, at most q.Limit of them.
	FindTraces(ctx context.Context, q search.Query) ([]TraceSummary, error)
	// Services lists every service name seen, sorted.
	Services(ctx context.Context) ([]string, error)
	// Operations lists the span names of a service with their kinds; kind KindUnspecified lists all kinds.
	Operations(ctx context.Context, service string, kind model.Kind) ([]Operation, error)
	// AttributeKeys lists span and resource attribute keys seen, sorted, for autocompletion.
	AttributeKeys(ctx context.Context) ([]string, error)
	// AttributeValues lists up to limit values seen for key that start with prefix, sorted.
	AttributeValues(ctx context.Context, key, prefix string, limit int) ([]string, error)
	// Dependencies returns the service call graph between start and end (Unix nanoseconds).
	Dependencies(ctx context.Context, start, end int64) ([]Dependency, error)
}

// Store is a whole store: it takes spans, answers queries, and releases its files on Close.
type Store interface {
	Writer
	Reader
	Close() error
}

// TraceSummary is one search result.
type TraceSummary struct {
	TraceID     model.TraceID
	RootService string // service of the root span, or of the earliest span when the root is missing
	RootName    string
	Start       int64 // Unix nanoseconds of the earliest span
	Duration    int64 // from the earliest start to the latest end
	SpanCount   int
	ErrorCount  int
	Services    []ServiceCount // sorted by name
}

// ServiceCount is how many spans of a trace a service produced.
type ServiceCount struct {
	Service string
	Spans   int
}

// Operation is a span name of a service with its kind.
type Operation struct {
	Name string
	Kind model.Kind
}

// Dependency is a call edge between two services.
type Dependency struct {
	Parent     string
	Child      string
	CallCount  int64
	ErrorCount int64
}

// DependencyCounts adds up the calls and errors of call edges between services, for a store's Dependencies.
type DependencyCounts map[[2]string]*Dependency

// Add counts calls and errors on the edge from parent's service to child's.
func (m DependencyCounts) Add(parent, child string, calls, errs int64) {
	d := m[[2]string{parent, child}]
	if d == nil {
		d = &Dependency{Parent: parent, Child: child}
		m[[2]string{parent, child}] = d
	}
	d.CallCount += calls
	d.ErrorCount += errs
}

// List returns the edges sorted by parent, then child, as Reader.Dependencies answers.
func (m DependencyCounts) List() []Dependency {
	out := make([]Dependency, 0, len(m))
	for _, d := range m {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b Dependency) int {
		return cmp.Or(cmp.Compare(a.Parent, b.Parent), cmp.Compare(a.Child, b.Child))
	})
	return out
}
