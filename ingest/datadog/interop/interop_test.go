// Package interop checks weft's Datadog receiver against Datadog's own Go tracer, dd-trace-go. It is a module of
// its own so that the tracer's many dependencies stay out of weft's.
package interop

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/ext"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/datadog"
	"github.com/weftrace/weft/model"
)

type recorder struct {
	mu    sync.Mutex
	spans []*model.Span
}

func (r *recorder) Consume(_ context.Context, spans []*model.Span) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, spans...)
	return nil
}

func (r *recorder) byName() map[string]*model.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]*model.Span{}
	for _, s := range r.spans {
		m[s.Name] = s
	}
	return m
}

func TestDDTraceGo(t *testing.T) {
	t.Setenv("DD_INSTRUMENTATION_TELEMETRY_ENABLED", "false")
	t.Setenv("DD_REMOTE_CONFIGURATION_ENABLED", "false")
	t.Setenv("DD_TRACE_STARTUP_LOGS", "false")
	rec := &recorder{}
	srv := httptest.NewServer(datadog.NewHandler(rec, ingest.Options{}))
	defer srv.Close()

	if err := tracer.Start(
		tracer.WithAgentAddr(strings.TrimPrefix(srv.URL, "http://")),
		tracer.WithService("matchmaker"), tracer.WithEnv("interop"), tracer.WithServiceVersion("1.2.3"),
		tracer.WithLogStartup(false),
	); err != nil {
		t.Fatal(err)
	}
	root := tracer.StartSpan("http.request", tracer.ResourceName("GET /pair"), tracer.SpanType(ext.SpanTypeWeb),
		tracer.Tag(ext.SpanKind, ext.SpanKindServer), tracer.Tag("bière", "stout"))
	child := tracer.StartSpan("postgres.query", tracer.ChildOf(root.Context()),
		tracer.ServiceName("matchmaker-db"), tracer.ResourceName("SELECT 1"), tracer.SpanType(ext.SpanTypeSQL),
		tracer.Tag(ext.SpanKind, ext.SpanKindClient), tracer.Tag("db.row_count", 3))
	child.Finish(tracer.WithError(errors.New("connection refused")))
	root.Finish()
	rootTrace, rootID, childID := root.Context().TraceID(), root.Context().SpanID(), child.Context().SpanID()
	tracer.Flush()
	tracer.Stop()

	var got map[string]*model.Span
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = rec.byName(); len(got) >= 2 {
			break
		}
	}
	r, c := got["http.request"], got["postgres.query"]
	if r == nil || c == nil {
		t.Fatalf("spans received: %v", got)
	}
	if r.TraceID.String() != rootTrace || c.TraceID.String() != rootTrace {
		t.Errorf("trace IDs %s and %s, want %s (128-bit)", r.TraceID, c.TraceID, rootTrace)
	}
	if r.TraceID[0] == 0 && r.TraceID[1] == 0 && r.TraceID[2] == 0 && r.TraceID[3] == 0 {
		t.Errorf("trace ID %s has no upper half", r.TraceID)
	}
	if !r.ParentID.IsZero() || c.ParentID != r.SpanID {
		t.Errorf("parent IDs: root %s, child %s, want zero and %s", r.ParentID, c.ParentID, r.SpanID)
	}
	if want := uint64ID(rootID); r.SpanID != want {
		t.Errorf("root span ID %s, want %s", r.SpanID, want)
	}
	if want := uint64ID(childID); c.SpanID != want {
		t.Errorf("child span ID %s, want %s", c.SpanID, want)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("root service", r.Service(), "matchmaker")
	check("child service", c.Service(), "matchmaker-db")
	check("root resource", r.SpanResource, "GET /pair")
	check("root type", r.SpanType, "web")
	check("root kind", r.Kind, model.KindServer)
	check("child kind", c.Kind, model.KindClient)
	check("child status", c.StatusCode, model.StatusError)
	check("child message", c.StatusMessage, "connection refused")
	v, _ := r.Attr("bière")
	check("root tag bière", v.AsString(), "stout")
	v, _ = r.Attr("deployment.environment.name")
	check("env", v.AsString(), "interop")
	v, _ = r.Attr("service.version")
	check("version", v.AsString(), "1.2.3")
	v, _ = r.Attr("telemetry.sdk.language")
	check("language", v.AsString(), "go")
	if r.Duration <= 0 || r.Start <= 0 {
		t.Errorf("root start %d duration %d", r.Start, r.Duration)
	}
}

func uint64ID(v uint64) model.SpanID {
	var id model.SpanID
	for i := 7; i >= 0; i-- {
		id[i] = byte(v)
		v >>= 8
	}
	return id
}
