package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	weftapi "github.com/weftrace/weft/query/weft"
)

// weftTrace fetches GET /api/weft/v1/traces/{id}, waiting until it has at least n spans.
func weftTrace(t *testing.T, w *weft, traceID string, n int) weftapi.Trace {
	t.Helper()
	var tr weftapi.Trace
	eventually(t, "weft trace by ID", func() string {
		tr = weftapi.Trace{}
		if code := w.get(t, "/api/weft/v1/traces/"+traceID, &tr); code != http.StatusOK {
			return fmt.Sprintf("status %d", code)
		}
		if len(tr.Spans) < n {
			return fmt.Sprintf("%d spans, want %d", len(tr.Spans), n)
		}
		return ""
	})
	return tr
}

// checkWeftTrace reads the trace back through weft's own API, which shows the stored model without a foreign
// API's conventions: kinds, statuses with their messages, typed attributes, events and services.
func checkWeftTrace(t *testing.T, w *weft, want wantTrace) {
	t.Helper()
	tr := weftTrace(t, w, want.traceID, len(want.spans))
	byName := map[string]weftapi.Span{}
	for _, s := range tr.Spans {
		byName[s.Name] = s
	}
	if len(tr.Spans) != len(want.spans) {
		t.Errorf("weft: %d spans, want %d", len(tr.Spans), len(want.spans))
	}
	for _, ws := range want.spans {
		s, ok := byName[ws.name]
		if !ok {
			t.Errorf("weft: no span named %q", ws.name)
			continue
		}
		if s.Service != ws.serviceOr(want.service) {
			t.Errorf("weft %q: service %q, want %q", ws.name, s.Service, ws.serviceOr(want.service))
		}
		if ws.parent != "" && s.ParentSpanID != byName[ws.parent].SpanID || ws.parent == "" && s.ParentSpanID != "" {
			t.Errorf("weft %q: parent %q, want %q's", ws.name, s.ParentSpanID, ws.parent)
		}
		if ws.kind != "" && s.Kind != ws.kind {
			t.Errorf("weft %q: kind %q, want %q", ws.name, s.Kind, ws.kind)
		}
		if d := time.Duration(s.Duration); d < ws.duration-durationTolerance || d > ws.duration+durationTolerance {
			t.Errorf("weft %q: duration %v, want %v", ws.name, d, ws.duration)
		}
		wantStatus := weftapi.Status{Code: "unset"}
		if ws.errMsg != "" {
			wantStatus = weftapi.Status{Code: "error", Message: ws.errMsg}
		}
		if s.Status != wantStatus {
			t.Errorf("weft %q: status %+v, want %+v", ws.name, s.Status, wantStatus)
		}
		for _, kv := range ws.jaeger {
			if strings.HasPrefix(kv.Key, "otel.") {
				continue // Jaeger's renderings of the status and scope, not attributes
			}
			i := slices.IndexFunc(s.Attributes, func(a weftapi.Attr) bool { return a.Key == kv.Key })
			if i < 0 || s.Attributes[i].Type != kv.Type || s.Attributes[i].Value != kv.Value {
				t.Errorf("weft %q: attribute %s = %+v, want %s %#v", ws.name, kv.Key, s.Attributes, kv.Type, kv.Value)
			}
		}
		var events []string
		for _, e := range s.Events {
			events = append(events, e.Name)
		}
		if !slices.Equal(events, ws.events) {
			t.Errorf("weft %q: events %q, want %q", ws.name, events, ws.events)
		}
	}
}

// hasAttr reports whether attrs has key with a value whose text is value.
func hasAttr(attrs []weftapi.Attr, key, value string) bool {
	for _, a := range attrs {
		if a.Key == key && fmt.Sprint(a.Value) == value {
			return true
		}
	}
	return false
}
