// Package memstore is a store.Store that keeps every span in memory and answers every query by scanning them all.
// It is meant to be obviously correct rather than fast: it is the oracle that the other stores' tests compare
// against, and the store behind the query APIs' tests. It keeps nothing across restarts.
package memstore

import (
	"context"
	"sort"
	"strings"
	"sync"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store"
)

// DefaultLimit is how many traces FindTraces returns when the query sets no limit.
const DefaultLimit = 20

// Store holds spans in a map by trace ID. The zero value is not usable; call New.
type Store struct {
	mu     sync.RWMutex
	traces map[model.TraceID][]*model.Span
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{traces: make(map[model.TraceID][]*model.Span)}
}

// Write adds spans. The store keeps the pointers; callers must not modify the spans afterwards.
func (s *Store) Write(ctx context.Context, spans []*model.Span) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range spans {
		s.traces[sp.TraceID] = append(s.traces[sp.TraceID], sp)
	}
	return nil
}

// Close releases the spans.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.traces = make(map[model.TraceID][]*model.Span)
	return nil
}

// Trace returns every span of one trace, or store.ErrNotFound.
func (s *Store) Trace(ctx context.Context, id model.TraceID) ([]*model.Span, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	spans, ok := s.traces[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return append([]*model.Span(nil), spans...), nil
}

// Traces returns the spans of each ID the store holds.
func (s *Store) Traces(ctx context.Context, ids []model.TraceID) (map[model.TraceID][]*model.Span, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[model.TraceID][]*model.Span, len(ids))
	for _, id := range ids {
		if spans, ok := s.traces[id]; ok {
			out[id] = append([]*model.Span(nil), spans...)
		}
	}
	return out, nil
}

// FindTraces returns the summaries of the traces in which one span satisfies the whole query, newest trace
// start first (ties by trace ID), at most q.Limit of them (DefaultLimit when q.Limit is not positive).
func (s *Store) FindTraces(ctx context.Context, q search.Query) ([]store.TraceSummary, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	s.mu.RLock()
	var out []store.TraceSummary
	for id, spans := range s.traces {
		for _, sp := range spans {
			if q.MatchSpan(sp) {
				out = append(out, store.Summarize(id, spans))
				break
			}
		}
	}
	s.mu.RUnlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Start != out[j].Start {
			return out[i].Start > out[j].Start
		}
		return strings.Compare(out[i].TraceID.String(), out[j].TraceID.String()) < 0
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Services lists every non-empty service name, sorted.
func (s *Store) Services(ctx context.Context) ([]string, error) {
	s.mu.RLock()
	set := map[string]bool{}
	for _, spans := range s.traces {
		for _, sp := range spans {
			if svc := sp.Service(); svc != "" {
				set[svc] = true
			}
		}
	}
	s.mu.RUnlock()
	return sortedKeys(set), nil
}

// Operations lists the distinct (name, kind) pairs of a service's spans, sorted by name then kind. A kind of
// KindUnspecified lists every kind; a service of "" lists every service's operations.
func (s *Store) Operations(ctx context.Context, service string, kind model.Kind) ([]store.Operation, error) {
	s.mu.RLock()
	set := map[store.Operation]bool{}
	for _, spans := range s.traces {
		for _, sp := range spans {
			if (service == "" || sp.Service() == service) && (kind == model.KindUnspecified || sp.Kind == kind) {
				set[store.Operation{Name: sp.Name, Kind: sp.Kind}] = true
			}
		}
	}
	s.mu.RUnlock()
	out := make([]store.Operation, 0, len(set))
	for op := range set {
		out = append(out, op)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Kind < out[j].Kind
	})
	return out, nil
}

// AttributeKeys lists every span and resource attribute key, sorted.
func (s *Store) AttributeKeys(ctx context.Context) ([]string, error) {
	s.mu.RLock()
	set := map[string]bool{}
	for _, spans := range s.traces {
		for _, sp := range spans {
			for _, a := range sp.Attrs {
				set[a.Key] = true
			}
			if sp.Resource != nil {
				for _, a := range sp.Resource.Attrs {
					set[a.Key] = true
				}
			}
		}
	}
	s.mu.RUnlock()
	return sortedKeys(set), nil
}

// AttributeValues lists the distinct texts (model.Value.AsString) of the span and resource attributes named key
// that start with prefix, sorted, at most limit of them (all when limit is not positive).
func (s *Store) AttributeValues(ctx context.Context, key, prefix string, limit int) ([]string, error) {
	s.mu.RLock()
	set := map[string]bool{}
	add := func(attrs []model.Attr) {
		for _, a := range attrs {
			if a.Key == key {
				if v := a.Value.AsString(); strings.HasPrefix(v, prefix) {
					set[v] = true
				}
			}
		}
	}
	for _, spans := range s.traces {
		for _, sp := range spans {
			add(sp.Attrs)
			if sp.Resource != nil {
				add(sp.Resource.Attrs)
			}
		}
	}
	s.mu.RUnlock()
	out := sortedKeys(set)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Dependencies counts, for every span that started within [start, end] (a zero bound is open) and whose parent
// span is in the same trace and belongs to another service, one call from the parent's service to the span's
// service, and one error when the span failed. The result is sorted by parent, then child.
func (s *Store) Dependencies(ctx context.Context, start, end int64) ([]store.Dependency, error) {
	s.mu.RLock()
	edges := store.DependencyCounts{}
	for _, spans := range s.traces {
		byID := make(map[model.SpanID]*model.Span, len(spans))
		for _, sp := range spans {
			// A Zipkin shared span ID names both the client and the server side; the children of that ID are
			// the server's, so the server side wins.
			if prev, ok := byID[sp.SpanID]; !ok || sp.Flags&model.FlagShared != 0 && prev.Flags&model.FlagShared == 0 {
				byID[sp.SpanID] = sp
			}
		}
		for _, sp := range spans {
			if sp.ParentID.IsZero() || (start != 0 && sp.Start < start) || (end != 0 && sp.Start > end) {
				continue
			}
			parent, ok := byID[sp.ParentID]
			if !ok || parent == sp {
				continue
			}
			ps, cs := parent.Service(), sp.Service()
			if ps == cs || ps == "" || cs == "" {
				continue
			}
			var errs int64
			if sp.IsError() {
				errs = 1
			}
			edges.Add(ps, cs, 1, errs)
		}
	}
	s.mu.RUnlock()
	return edges.List(), nil
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
