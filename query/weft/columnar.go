package weft

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// ColumnarFormat is the value of Columnar.Format and of the format query parameter that asks for it.
const ColumnarFormat = "columnar"

// Columnar is the compact answer of GET /api/weft/v1/traces/{id}?format=columnar: the same trace as Trace, with
// every repeated string (service, span and event names, kinds, status codes, attribute keys, types and string
// values, execution units) stored once in Strings and referred to by index, the spans' fields as parallel arrays,
// and what few spans have (events, links, status messages, scopes, ...) in the sparse More. A span's and an
// event's absolute start time is the trace's Start plus its offset. Decode turns it back into the Trace.
type Columnar struct {
	Format     string           `json:"format"` // "columnar"
	TraceID    string           `json:"traceID"`
	Start      string           `json:"start"`
	End        string           `json:"end"`
	Duration   int64            `json:"duration"`
	SpanCount  int              `json:"spanCount"`
	ErrorCount int              `json:"errorCount"`
	Services   []ServiceCount   `json:"services"`
	Resources  []Resource       `json:"resources"`
	Strings    []string         `json:"strings"`
	Spans      ColumnarSpans    `json:"spans"`
	More       map[int]SpanMore `json:"more"` // by span index; only spans with something in it
	Units      []ColumnarUnit   `json:"units"`
}

// ColumnarSpans holds the spans' fields as parallel arrays, one entry per span, in the order of Trace.Spans.
// Name, Kind, Service and Status are indexes into Columnar.Strings; Parent is the index of the parent span, or
// -1 for a root (a parent missing from the trace is in SpanMore.ParentSpanID).
type ColumnarSpans struct {
	ID         []string `json:"id"`
	Parent     []int    `json:"parent"`
	Name       []int    `json:"name"`
	Kind       []int    `json:"kind"`
	Service    []int    `json:"service"`
	Resource   []int    `json:"resource"`
	Offset     []int64  `json:"offset"`   // ns after Columnar.Start
	Duration   []int64  `json:"duration"` // ns
	Status     []int    `json:"status"`
	Attributes [][]any  `json:"attributes"` // flat key, type, value triples (see ColumnarAttrs); null for none
	// Causality is null for a span without it, else [unit, startSeq, endSeq, endUnit, cause] with units as
	// string indexes (endUnit -1 when the span ended on its start unit) and cause null or a ColumnarRef.
	Causality []any `json:"causality"`
}

// ColumnarRef is an EventRef as [traceID, unit, seq]: string indexes, traceID -1 for this trace.
type ColumnarRef [3]int64

// SpanMore is what only some spans have. Events are [offset, name, attributes, unit, seq, cause] (name and unit
// string indexes, unit -1 when absent, cause null or a ColumnarRef); absent Events and Links mean none.
type SpanMore struct {
	ParentSpanID  string   `json:"parentSpanID,omitempty"` // a parent that is not in the trace
	StatusMessage string   `json:"statusMessage,omitempty"`
	SpanResource  string   `json:"spanResource,omitempty"`
	SpanType      string   `json:"spanType,omitempty"`
	Scope         *Scope   `json:"scope,omitempty"`
	TraceState    string   `json:"traceState,omitempty"`
	Flags         []string `json:"flags,omitempty"`
	Events        [][]any  `json:"events,omitempty"`
	Links         []Link   `json:"links,omitempty"`
}

// ColumnarUnit is a Unit whose spans are indexes into the trace's spans.
type ColumnarUnit struct {
	Unit    string `json:"unit"`
	Service string `json:"service"`
	Spans   []int  `json:"spans"`
	Events  int    `json:"events"`
	MinSeq  uint32 `json:"minSeq"`
	MaxSeq  uint32 `json:"maxSeq"`
}

type stringTable struct {
	list []string
	at   map[string]int
}

func (st *stringTable) index(s string) int {
	i, ok := st.at[s]
	if !ok {
		i = len(st.list)
		st.list = append(st.list, s)
		st.at[s] = i
	}
	return i
}

// ColumnarAttrs flattens attributes into key, type, value triples: key and type are string indexes, and so is the
// value of a string attribute; other values are as in Attr. Nil stays nil.
func (st *stringTable) attrs(as []Attr) []any {
	if as == nil {
		return nil
	}
	out := make([]any, 0, 3*len(as))
	for _, a := range as {
		v := a.Value
		if s, ok := v.(string); ok && a.Type == "string" {
			v = st.index(s)
		}
		out = append(out, st.index(a.Key), st.index(a.Type), v)
	}
	return out
}

func (st *stringTable) ref(r *EventRef) any {
	if r == nil {
		return nil
	}
	tr := int64(-1)
	if r.TraceID != "" {
		tr = int64(st.index(r.TraceID))
	}
	return ColumnarRef{tr, int64(st.index(r.Unit)), int64(r.Seq)}
}

// ToColumnar is t in the columnar form.
func (t *Trace) ToColumnar() *Columnar {
	n := len(t.Spans)
	st := &stringTable{at: map[string]int{}}
	c := &Columnar{Format: ColumnarFormat, TraceID: t.TraceID, Start: t.Start, End: t.End, Duration: t.Duration,
		SpanCount: t.SpanCount, ErrorCount: t.ErrorCount, Services: t.Services, Resources: t.Resources,
		More: map[int]SpanMore{}}
	cs := &c.Spans
	cs.ID, cs.Parent = make([]string, n), make([]int, n)
	cs.Name, cs.Kind, cs.Service, cs.Resource = make([]int, n), make([]int, n), make([]int, n), make([]int, n)
	cs.Offset, cs.Duration, cs.Status = make([]int64, n), make([]int64, n), make([]int, n)
	cs.Attributes, cs.Causality = make([][]any, n), make([]any, n)
	byID := make(map[string]int, n)
	for i := range t.Spans {
		byID[t.Spans[i].SpanID] = i // the last of duplicate IDs, as the UI resolves parents
	}
	for i := range t.Spans {
		s := &t.Spans[i]
		cs.ID[i] = s.SpanID
		cs.Parent[i] = -1
		var m SpanMore
		if s.ParentSpanID != "" {
			if p, ok := byID[s.ParentSpanID]; ok && p != i {
				cs.Parent[i] = p
			} else {
				m.ParentSpanID = s.ParentSpanID
			}
		}
		cs.Name[i], cs.Kind[i], cs.Service[i] = st.index(s.Name), st.index(s.Kind), st.index(s.Service)
		cs.Resource[i], cs.Offset[i], cs.Duration[i], cs.Status[i] = s.Resource, s.Offset, s.Duration, st.index(s.Status.Code)
		cs.Attributes[i] = st.attrs(s.Attributes)
		if k := s.Causality; k != nil {
			endUnit := -1
			if k.EndUnit != "" {
				endUnit = st.index(k.EndUnit)
			}
			cs.Causality[i] = []any{st.index(k.Unit), k.StartSeq, k.EndSeq, endUnit, st.ref(k.StartCause)}
		}
		m.StatusMessage, m.SpanResource, m.SpanType, m.Scope, m.TraceState, m.Flags =
			s.Status.Message, s.SpanResource, s.SpanType, s.Scope, s.TraceState, s.Flags
		for _, e := range s.Events {
			unit := -1
			if e.Unit != "" {
				unit = st.index(e.Unit)
			}
			m.Events = append(m.Events, []any{e.Offset, st.index(e.Name), st.attrs(e.Attributes), unit, e.Seq, st.ref(e.Cause)})
		}
		m.Links = s.Links
		if m.ParentSpanID != "" || m.StatusMessage != "" || m.SpanResource != "" || m.SpanType != "" || m.Scope != nil ||
			m.TraceState != "" || m.Flags != nil || len(m.Events) > 0 || len(m.Links) > 0 {
			c.More[i] = m
		}
	}
	if t.Units != nil {
		c.Units = make([]ColumnarUnit, len(t.Units))
		for i, u := range t.Units {
			cu := ColumnarUnit{Unit: u.Unit, Service: u.Service, Spans: make([]int, len(u.Spans)), Events: u.Events,
				MinSeq: u.MinSeq, MaxSeq: u.MaxSeq}
			for j, id := range u.Spans {
				cu.Spans[j] = byID[id]
			}
			c.Units[i] = cu
		}
	}
	c.Strings = st.list
	if c.Strings == nil {
		c.Strings = []string{}
	}
	return c
}

// Decode is the Trace c encodes. Numbers in attribute values are json.Number when c was decoded with UseNumber.
// It fails on an index out of range or a malformed entry.
func (c *Columnar) Decode() (*Trace, error) {
	cs := &c.Spans
	n := len(cs.ID)
	for name, l := range map[string]int{"parent": len(cs.Parent), "name": len(cs.Name), "kind": len(cs.Kind),
		"service": len(cs.Service), "resource": len(cs.Resource), "offset": len(cs.Offset), "duration": len(cs.Duration),
		"status": len(cs.Status), "attributes": len(cs.Attributes), "causality": len(cs.Causality)} {
		if l != n {
			return nil, fmt.Errorf("columnar trace: spans.%s has %d entries, spans.id %d", name, l, n)
		}
	}
	start, err := strconv.ParseInt(c.Start, 10, 64)
	if err != nil && n > 0 {
		return nil, fmt.Errorf("columnar trace: start %q is not a number", c.Start)
	}
	d := decoder{strs: c.Strings}
	t := &Trace{TraceID: c.TraceID, Start: c.Start, End: c.End, Duration: c.Duration, SpanCount: c.SpanCount,
		ErrorCount: c.ErrorCount, Services: c.Services, Resources: c.Resources, Spans: make([]Span, n)}
	for i := 0; i < n; i++ {
		m := c.More[i]
		s := Span{SpanID: cs.ID[i], Name: d.str(cs.Name[i]), Kind: d.str(cs.Kind[i]), Service: d.str(cs.Service[i]),
			Resource: cs.Resource[i], Start: strconv.FormatInt(start+cs.Offset[i], 10), Offset: cs.Offset[i],
			Duration: cs.Duration[i], Status: Status{Code: d.str(cs.Status[i]), Message: m.StatusMessage},
			SpanResource: m.SpanResource, SpanType: m.SpanType, Scope: m.Scope, Attributes: d.attrs(cs.Attributes[i]),
			Events: make([]Event, 0, len(m.Events)), Links: m.Links, TraceState: m.TraceState, Flags: m.Flags,
			ParentSpanID: m.ParentSpanID}
		if s.Links == nil {
			s.Links = []Link{}
		}
		if p := cs.Parent[i]; p >= 0 {
			if p >= n {
				return nil, fmt.Errorf("columnar trace: span %d: parent %d out of range", i, p)
			}
			s.ParentSpanID = cs.ID[p]
		}
		if k, ok := cs.Causality[i].([]any); ok {
			if len(k) != 5 {
				return nil, fmt.Errorf("columnar trace: span %d: causality has %d entries, want 5", i, len(k))
			}
			s.Causality = &Causality{Unit: d.str(d.num(k[0])), StartSeq: uint32(d.num(k[1])), EndSeq: uint32(d.num(k[2])),
				StartCause: d.ref(k[4])}
			if eu := d.num(k[3]); eu >= 0 {
				s.Causality.EndUnit = d.str(eu)
			}
		} else if cs.Causality[i] != nil {
			return nil, fmt.Errorf("columnar trace: span %d: causality is not an array", i)
		}
		for j, e := range m.Events {
			if len(e) != 6 {
				return nil, fmt.Errorf("columnar trace: span %d event %d has %d entries, want 6", i, j, len(e))
			}
			off := int64(d.num(e[0]))
			at, _ := e[2].([]any)
			ev := Event{Time: strconv.FormatInt(start+off, 10), Offset: off, Name: d.str(d.num(e[1])), Attributes: d.attrs(at),
				Seq: uint32(d.num(e[4])), Cause: d.ref(e[5])}
			if u := d.num(e[3]); u >= 0 {
				ev.Unit = d.str(u)
			}
			s.Events = append(s.Events, ev)
		}
		t.Spans[i] = s
	}
	if c.Units != nil {
		t.Units = make([]Unit, len(c.Units))
		for i, u := range c.Units {
			x := Unit{Unit: u.Unit, Service: u.Service, Spans: make([]string, len(u.Spans)), Events: u.Events,
				MinSeq: u.MinSeq, MaxSeq: u.MaxSeq}
			for j, si := range u.Spans {
				if si < 0 || si >= n {
					return nil, fmt.Errorf("columnar trace: unit %s: span %d out of range", u.Unit, si)
				}
				x.Spans[j] = cs.ID[si]
			}
			t.Units[i] = x
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return t, nil
}

// decoder resolves string indexes and numbers, keeping the first error.
type decoder struct {
	strs []string
	err  error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) str(i int) string {
	if i < 0 || i >= len(d.strs) {
		d.fail(fmt.Errorf("columnar trace: string index %d out of range (%d strings)", i, len(d.strs)))
		return ""
	}
	return d.strs[i]
}

// num reads a JSON number decoded as float64, json.Number or an integer type.
func (d *decoder) num(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case json.Number:
		i, err := x.Int64()
		if err != nil {
			d.fail(fmt.Errorf("columnar trace: %q is not an integer", x))
		}
		return int(i)
	case int:
		return x
	case int64:
		return int(x)
	case uint32:
		return int(x)
	}
	d.fail(fmt.Errorf("columnar trace: %v is not a number", v))
	return 0
}

func (d *decoder) ref(v any) *EventRef {
	if v == nil {
		return nil
	}
	a, ok := v.([]any)
	if !ok || len(a) != 3 {
		d.fail(fmt.Errorf("columnar trace: event reference %v is not [trace, unit, seq]", v))
		return nil
	}
	r := &EventRef{Unit: d.str(d.num(a[1])), Seq: uint32(d.num(a[2]))}
	if tr := d.num(a[0]); tr >= 0 {
		r.TraceID = d.str(tr)
	}
	return r
}

func (d *decoder) attrs(flat []any) []Attr {
	if flat == nil {
		return nil
	}
	if len(flat)%3 != 0 {
		d.fail(fmt.Errorf("columnar trace: attributes have %d entries, not key, type, value triples", len(flat)))
		return nil
	}
	out := make([]Attr, 0, len(flat)/3)
	for i := 0; i < len(flat); i += 3 {
		a := Attr{Key: d.str(d.num(flat[i])), Type: d.str(d.num(flat[i+1])), Value: flat[i+2]}
		if a.Type == "string" {
			a.Value = d.str(d.num(a.Value))
		}
		out = append(out, a)
	}
	return out
}

// AppendColumnar appends t in the columnar form as JSON, as the API answers it: the same trace as encoding
// t.ToColumnar() gives (strings last, and numbered in another order: column by column), several times faster,
// without building the intermediate value.
func (t *Trace) AppendColumnar(b []byte) []byte {
	n := len(t.Spans)
	st := &stringTable{at: map[string]int{}}
	byID := make(map[string]int, n)
	for i := range t.Spans {
		byID[t.Spans[i].SpanID] = i // the last of duplicate IDs, as the UI resolves parents
	}
	b = append(b, `{"format":"columnar","traceID":`...)
	b = t.appendHeader(b)
	parent := func(i int) int {
		if s := &t.Spans[i]; s.ParentSpanID != "" {
			if p, ok := byID[s.ParentSpanID]; ok && p != i {
				return p
			}
		}
		return -1
	}
	column := func(name string, v func(i int) int64) {
		b = append(b, name...)
		b = append(b, '[')
		for i := 0; i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, v(i), 10)
		}
		b = append(b, ']')
	}
	b = append(b, `,"spans":{"id":[`...)
	for i := range t.Spans {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, t.Spans[i].SpanID)
	}
	b = append(b, ']')
	column(`,"parent":`, func(i int) int64 { return int64(parent(i)) })
	column(`,"name":`, func(i int) int64 { return int64(st.index(t.Spans[i].Name)) })
	column(`,"kind":`, func(i int) int64 { return int64(st.index(t.Spans[i].Kind)) })
	column(`,"service":`, func(i int) int64 { return int64(st.index(t.Spans[i].Service)) })
	column(`,"resource":`, func(i int) int64 { return int64(t.Spans[i].Resource) })
	column(`,"offset":`, func(i int) int64 { return t.Spans[i].Offset })
	column(`,"duration":`, func(i int) int64 { return t.Spans[i].Duration })
	column(`,"status":`, func(i int) int64 { return int64(st.index(t.Spans[i].Status.Code)) })
	b = append(b, `,"attributes":[`...)
	for i := range t.Spans {
		if i > 0 {
			b = append(b, ',')
		}
		b = st.appendAttrs(b, t.Spans[i].Attributes)
	}
	b = append(b, `],"causality":[`...)
	for i := range t.Spans {
		if i > 0 {
			b = append(b, ',')
		}
		k := t.Spans[i].Causality
		if k == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(st.index(k.Unit)), 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(k.StartSeq), 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(k.EndSeq), 10)
		b = append(b, ',')
		if k.EndUnit != "" {
			b = strconv.AppendInt(b, int64(st.index(k.EndUnit)), 10)
		} else {
			b = append(b, "-1"...)
		}
		b = append(b, ',')
		b = st.appendRef(b, k.StartCause)
		b = append(b, ']')
	}
	b = append(b, `]},"more":{`...)
	first := true
	for i := range t.Spans {
		s := &t.Spans[i]
		missing := s.ParentSpanID != "" && parent(i) < 0
		if !missing && s.Status.Message == "" && s.SpanResource == "" && s.SpanType == "" && s.Scope == nil &&
			s.TraceState == "" && s.Flags == nil && len(s.Events) == 0 && len(s.Links) == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `":{`...)
		sep := false
		field := func(name string) {
			if sep {
				b = append(b, ',')
			}
			sep = true
			b = append(b, '"')
			b = append(b, name...)
			b = append(b, `":`...)
		}
		if missing {
			field("parentSpanID")
			b = appendString(b, s.ParentSpanID)
		}
		if s.Status.Message != "" {
			field("statusMessage")
			b = appendString(b, s.Status.Message)
		}
		if s.SpanResource != "" {
			field("spanResource")
			b = appendString(b, s.SpanResource)
		}
		if s.SpanType != "" {
			field("spanType")
			b = appendString(b, s.SpanType)
		}
		if s.Scope != nil {
			field("scope")
			b = append(b, `{"name":`...)
			b = appendString(b, s.Scope.Name)
			if s.Scope.Version != "" {
				b = append(b, `,"version":`...)
				b = appendString(b, s.Scope.Version)
			}
			b = append(b, '}')
		}
		if s.TraceState != "" {
			field("traceState")
			b = appendString(b, s.TraceState)
		}
		if s.Flags != nil {
			field("flags")
			b = appendStrings(b, s.Flags)
		}
		if len(s.Events) > 0 {
			field("events")
			b = append(b, '[')
			for j, e := range s.Events {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, '[')
				b = strconv.AppendInt(b, e.Offset, 10)
				b = append(b, ',')
				b = strconv.AppendInt(b, int64(st.index(e.Name)), 10)
				b = append(b, ',')
				b = st.appendAttrs(b, e.Attributes)
				b = append(b, ',')
				if e.Unit != "" {
					b = strconv.AppendInt(b, int64(st.index(e.Unit)), 10)
				} else {
					b = append(b, "-1"...)
				}
				b = append(b, ',')
				b = strconv.AppendUint(b, uint64(e.Seq), 10)
				b = append(b, ',')
				b = st.appendRef(b, e.Cause)
				b = append(b, ']')
			}
			b = append(b, ']')
		}
		if len(s.Links) > 0 {
			field("links")
			b = appendLinks(b, s.Links)
		}
		b = append(b, '}')
	}
	b = append(b, `},"units":`...)
	b = appendUnits(b, t.Units, func(b []byte, ids []string) []byte {
		b = append(b, '[')
		for j, id := range ids {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(byID[id]), 10)
		}
		return append(b, ']')
	})
	b = append(b, `,"strings":[`...)
	for i, s := range st.list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, "]}"...)
}

// appendAttrs writes attributes as the flat triples of ColumnarSpans.Attributes.
func (st *stringTable) appendAttrs(b []byte, as []Attr) []byte {
	if as == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, a := range as {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(st.index(a.Key)), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(st.index(a.Type)), 10)
		b = append(b, ',')
		if s, ok := a.Value.(string); ok && a.Type == "string" {
			b = strconv.AppendInt(b, int64(st.index(s)), 10)
		} else {
			b = appendAny(b, a.Value)
		}
	}
	return append(b, ']')
}

func (st *stringTable) appendRef(b []byte, r *EventRef) []byte {
	if r == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	if r.TraceID != "" {
		b = strconv.AppendInt(b, int64(st.index(r.TraceID)), 10)
	} else {
		b = append(b, "-1"...)
	}
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(st.index(r.Unit)), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(r.Seq), 10)
	return append(b, ']')
}
