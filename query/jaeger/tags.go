package jaeger

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
)

// Tag is one key=value condition of a Jaeger search.
type Tag struct{ Key, Value string }

// ParseTags reads the tag conditions of /api/traces: each tag parameter as key:value, and each tags parameter as
// a JSON object ({"http.method":"GET","error":true}; numbers and booleans are taken as their text) or, as typed in
// Jaeger UI's search form, logfmt pairs (http.method=GET error=true name="a b"; a bare key means true). Later
// values of a key replace earlier ones. The result is sorted by key.
func ParseTags(tag, tags []string) ([]Tag, error) {
	m := map[string]string{}
	for _, t := range tag {
		k, v, ok := strings.Cut(t, ":")
		if !ok || k == "" {
			return nil, fmt.Errorf("malformed 'tag' parameter, expecting key:value, received: %s", t)
		}
		m[k] = v
	}
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		var err error
		if strings.HasPrefix(t, "{") {
			err = parseJSONTags(t, m)
		} else {
			err = parseLogfmt(t, m)
		}
		if err != nil {
			return nil, fmt.Errorf("malformed 'tags' parameter: %w", err)
		}
	}
	out := make([]Tag, 0, len(m))
	for k, v := range m {
		out = append(out, Tag{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func parseJSONTags(t string, m map[string]string) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(t), &raw); err != nil {
		return fmt.Errorf("cannot unmarshal JSON: %v", err)
	}
	for k, r := range raw {
		if k == "" {
			return fmt.Errorf("empty tag key")
		}
		var s string
		if err := json.Unmarshal(r, &s); err == nil {
			m[k] = s
			continue
		}
		var x any
		if err := json.Unmarshal(r, &x); err != nil {
			return fmt.Errorf("tag %q: %v", k, err)
		}
		switch x.(type) {
		case bool, float64:
			m[k] = string(r)
		default:
			return fmt.Errorf("tag %q: the value must be a string, number or boolean", k)
		}
	}
	return nil
}

// parseLogfmt reads space-separated key=value pairs; values may be double-quoted with Go escapes.
func parseLogfmt(t string, m map[string]string) error {
	i := 0
	for {
		for i < len(t) && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r') {
			i++
		}
		if i >= len(t) {
			return nil
		}
		start := i
		for i < len(t) && t[i] != '=' && t[i] != ' ' && t[i] != '\t' && t[i] != '\n' && t[i] != '\r' && t[i] != '"' {
			i++
		}
		key := t[start:i]
		if key == "" {
			return fmt.Errorf("expected a key at offset %d", start)
		}
		if i >= len(t) || t[i] != '=' {
			if i < len(t) && t[i] == '"' {
				return fmt.Errorf("unexpected quote in key at offset %d", i)
			}
			m[key] = "true"
			continue
		}
		i++ // '='
		if i < len(t) && t[i] == '"' {
			j := i + 1
			for j < len(t) && t[j] != '"' {
				if t[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(t) {
				return fmt.Errorf("unterminated quoted value of %q", key)
			}
			v, err := strconv.Unquote(t[i : j+1])
			if err != nil {
				return fmt.Errorf("bad quoted value of %q: %v", key, err)
			}
			m[key] = v
			i = j + 1
			continue
		}
		vs := i
		for i < len(t) && t[i] != ' ' && t[i] != '\t' && t[i] != '\n' && t[i] != '\r' {
			i++
		}
		m[key] = t[vs:i]
	}
}

// TagsExpr turns tag conditions into a search expression that one span must satisfy whole: each tag's value
// equals the text of the span's or its resource's attribute. Tags that Jaeger derives from span fields are read
// from those fields too: error=true is a failed span, span.kind the kind, otel.status_code the status, and event
// the name of one of the span's events (a log's event field).
func TagsExpr(tags []Tag) search.Expr {
	var xs []search.Expr
	for _, t := range tags {
		xs = append(xs, tagExpr(t))
	}
	switch len(xs) {
	case 0:
		return nil
	case 1:
		return xs[0]
	}
	return &search.And{Exprs: xs}
}

func tagExpr(t Tag) search.Expr {
	attr := &search.Compare{Field: search.Attribute(t.Key), Op: search.OpEq, Value: model.String(t.Value)}
	field := func(name, v string) search.Expr {
		return &search.Or{Exprs: []search.Expr{
			attr,
			&search.Compare{Field: search.Intrinsic(name), Op: search.OpEq, Value: model.String(v)},
		}}
	}
	switch t.Key {
	case "error":
		if strings.EqualFold(t.Value, "true") {
			return field(search.FieldStatus, "error")
		}
	case "span.kind":
		if k := strings.ToLower(t.Value); model.ParseKind(k) != model.KindUnspecified {
			return field(search.FieldKind, k)
		}
	case "event": // a Jaeger log's event field is an event's name
		return field(search.FieldEvent, t.Value)
	case "otel.status_code":
		switch v := strings.ToLower(t.Value); v {
		case "ok", "error", "unset":
			return field(search.FieldStatus, v)
		}
	}
	return attr
}
