package trace_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/weftrace/weft/trace"
)

// A program makes one Provider at start, with its exporter, and makes it the default.
func ExampleNewProvider() {
	rec := &trace.Recorder{} // an exporter from trace/export in a real program
	p := trace.NewProvider(trace.Config{
		Resource: &trace.Resource{Service: "matchmaker", Attrs: []trace.Attr{trace.String("service.version", "1.4.0")}},
		Exporter: rec,
	})
	trace.SetDefault(p)
	defer p.Shutdown(context.Background())

	_, span := trace.Start(context.Background(), "startup")
	span.End()

	p.Flush(context.Background())
	fmt.Println(rec.Spans()[0].Name, rec.Spans()[0].ServiceName())
	// Output: startup matchmaker
}

func ExampleStart() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	trace.SetDefault(p)

	ctx, span := trace.Start(context.Background(), "GET /pair",
		trace.WithKind(trace.KindServer),
		trace.WithAttrs(trace.String("http.route", "/pair"), trace.Int("beer.count", 3)),
		trace.WithResource("GET /pair"), trace.WithType("http"))
	_, child := trace.Start(ctx, "SELECT donuts", trace.WithKind(trace.KindClient), trace.WithType("db"))
	child.End()
	span.End()

	p.Flush(context.Background())
	for _, d := range byName(rec.Spans()) {
		fmt.Println(d.Name, d.Kind, d.SpanType, d.ParentID.IsValid())
	}
	// Output:
	// GET /pair server http false
	// SELECT donuts client db true
}

func ExampleTracer_Start() {
	p := trace.NewProvider(trace.Config{})
	tracer := p.Tracer("github.com/weftrace/weft/demo/taster")
	ctx, span := tracer.Start(context.Background(), "taste")
	defer span.End()
	fmt.Println(trace.SpanContextFromContext(ctx).IsSampled())
	// Output: true
}

func ExampleSpan_RecordError() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	_, span := p.Tracer("").Start(context.Background(), "pair")
	span.RecordError(errors.New("out of stout"))
	span.End()
	p.Flush(context.Background())
	d := rec.Spans()[0]
	fmt.Println(d.StatusCode, d.StatusMessage, d.Events[0].Name)
	// Output: error out of stout exception
}

// Per-span counters cost nothing until the span ends, when they become attributes.
func ExampleSpan_AddBytesIn() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	_, span := p.Tracer("").Start(context.Background(), "download")
	span.AddBytesIn(512)
	span.AddBytesIn(512)
	span.AddRetries(1)
	span.End()
	p.Flush(context.Background())
	fmt.Println(rec.Spans()[0].Attrs)
	// Output: [weft.bytes.in=1024 weft.retries=1]
}

func ExampleSpan_AddEvent() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	_, span := p.Tracer("").Start(context.Background(), "pair")
	id := span.AddEvent("cache miss", trace.String("key", "stout"))
	span.End()
	p.Flush(context.Background())
	d := rec.Spans()[0]
	// The span's start is event 1 on its unit, the event 2, the end 3.
	fmt.Println(id.Seq, d.StartSeq, d.Events[0].Seq, d.EndSeq)
	// Output: 2 1 2 3
}

// Go runs a goroutine as a new execution unit; Join records that the caller waited for it.
func ExampleGo() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	tracer := p.Tracer("")
	ctx, span := tracer.Start(context.Background(), "pair")
	task := trace.Go(ctx, func(ctx context.Context) {
		_, s := tracer.Start(ctx, "fetch donuts")
		s.End()
	})
	task.Join()
	span.End()
	p.Flush(context.Background())
	for _, d := range byName(rec.Spans()) {
		var events []string
		for _, e := range d.Events {
			events = append(events, e.Name)
		}
		fmt.Println(d.Name, d.StartCause.IsValid(), events)
	}
	// Output:
	// fetch donuts true []
	// pair false [weft.fork weft.join]
}

func ExampleNewGroup() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	tracer := p.Tracer("")
	ctx, span := tracer.Start(context.Background(), "pair")
	g := trace.NewGroup(ctx)
	for _, what := range []string{"beer", "donut"} {
		g.Go(func(ctx context.Context) error {
			_, s := tracer.Start(ctx, "fetch "+what)
			defer s.End()
			return nil
		})
	}
	err := g.Wait()
	span.End()
	p.Flush(context.Background())
	joins := 0
	for _, d := range rec.Spans() {
		for _, e := range d.Events {
			if e.Name == trace.EventJoin && e.Cause.IsValid() {
				joins++
			}
		}
	}
	fmt.Println(err, joins)
	// Output: <nil> 2
}

// A propagator records the sending event when it injects, and the receiving side's first span names it.
func ExampleRecordSend() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	tracer := p.Tracer("")
	ctx, client := tracer.Start(context.Background(), "call taster", trace.WithKind(trace.KindClient))
	sc := trace.SpanContextFromContext(ctx)
	sc.Cause = trace.RecordSend(ctx) // travels as tracestate weft=<unit>:<seq>
	client.End()

	// In the taster process, after extraction:
	remote := trace.ContextWithRemoteSpanContext(context.Background(), sc)
	_, server := tracer.Start(remote, "taste", trace.WithKind(trace.KindServer))
	server.End()

	p.Flush(context.Background())
	spans := byName(rec.Spans()) // "call taster", "taste"
	fmt.Println(spans[1].StartCause.EventID == sc.Cause, sc.Cause.Seq)
	// Output: true 2
}

func ExampleSpanContextFromContext() {
	p := trace.NewProvider(trace.Config{})
	ctx, span := p.Tracer("").Start(context.Background(), "pair")
	defer span.End()
	sc := trace.SpanContextFromContext(ctx)
	fmt.Println(sc.TraceID == span.SpanContext().TraceID, len(sc.TraceID.String()), len(sc.SpanID.String()))
	// Output: true 32 16
}

func ExampleProvider_Counters() {
	p := trace.NewProvider(trace.Config{Exporter: &trace.Recorder{}})
	for i := 0; i < 3; i++ {
		_, span := p.Tracer("").Start(context.Background(), "pair")
		span.End()
	}
	p.Flush(context.Background())
	c := p.Counters()
	fmt.Println(c.SpansStarted, c.SpansSampled, c.SpansEnded, c.SpansExported, c.SpansDropped, c.QueueDepth)
	// Output: 3 3 3 3 0 0
}

func ExampleProvider_Shutdown() {
	p := trace.NewProvider(trace.Config{Exporter: &trace.Recorder{}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(p.Shutdown(ctx))
	// Output: <nil>
}

func ExampleParseEventID() {
	id, err := trace.ParseEventID("3d3899d57e98f17f:12")
	fmt.Println(id.Unit == 0x3d3899d57e98f17f, id.Seq, err, id)
	// Output: true 12 <nil> 3d3899d57e98f17f:12
}

func ExampleSpanFromContext() {
	p := trace.NewProvider(trace.Config{})
	ctx, span := p.Tracer("").Start(context.Background(), "pair")
	defer span.End()
	// Deep in a call chain, add to whatever span is current; a nil span ignores it.
	trace.SpanFromContext(ctx).SetAttrs(trace.String("beer", "stout"))
	trace.SpanFromContext(context.Background()).SetAttrs(trace.String("ignored", "yes"))
	fmt.Println(trace.SpanFromContext(ctx) == span)
	// Output: true
}

func ExampleCurrentEvent() {
	p := trace.NewProvider(trace.Config{})
	ctx, span := p.Tracer("").Start(context.Background(), "pair")
	span.AddEvent("cache miss")
	fmt.Println(trace.CurrentEvent(ctx).Seq) // the start was 1, the event 2
	span.End()
	// Output: 2
}

// A span started on one goroutine and ended on another records where it ended.
func ExampleSpan_EndIn() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	tracer := p.Tracer("")
	ctx, span := tracer.Start(context.Background(), "pair")
	_, call := tracer.Start(ctx, "async tasting")
	trace.Go(ctx, func(ctx context.Context) { call.EndIn(ctx) }).Join()
	span.End()
	p.Flush(context.Background())
	d := byName(rec.Spans())[0] // "async tasting", "pair"
	fmt.Println(d.Name, d.EndUnit != 0 && d.EndUnit != d.Unit)
	// Output: async tasting true
}

func ExampleContextWithSpanContext() {
	p := trace.NewProvider(trace.Config{})
	sc := trace.SpanContext{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}} // not sampled
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	_, span := p.Tracer("").Start(ctx, "child")
	fmt.Println(span.IsRecording())
	// Output: false
}

func ExampleRecorder() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	_, span := p.Tracer("").Start(context.Background(), "pair", trace.WithAttrs(trace.Bool("cached", true)))
	span.End()
	p.Flush(context.Background())
	fmt.Println(len(rec.Spans()), rec.Spans()[0].Attrs)
	rec.Reset()
	fmt.Println(len(rec.Spans()))
	// Output:
	// 1 [cached=true]
	// 0
}

func ExampleSpanData_AppendWeftAttrs() {
	d := &trace.SpanData{Unit: 0xaa, StartSeq: 1, EndSeq: 4,
		StartCause: trace.EventRef{EventID: trace.EventID{Unit: 0xbb, Seq: 9}}}
	fmt.Println(d.AppendWeftAttrs(nil))
	// Output: [weft.unit=00000000000000aa weft.seq.start=1 weft.seq.end=4 weft.cause=00000000000000bb:9]
}

// byName sorts spans by name: spans ended on different CPUs are exported in no particular order.
func byName(spans []*trace.SpanData) []*trace.SpanData {
	sort.Slice(spans, func(i, j int) bool { return spans[i].Name < spans[j].Name })
	return spans
}

// A server continues the caller's trace from the extracted context; its first span names the caller's send
// event.
func ExampleContextWithRemoteSpanContext() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	extracted := trace.SpanContext{ // what a propagator extracted from traceparent and tracestate
		TraceID: trace.TraceID{0x4b, 0xf9}, SpanID: trace.SpanID{0x00, 0xf0}, Flags: trace.FlagSampled,
		Priority: trace.PriorityUnset, Cause: trace.EventID{Unit: 0x3d38, Seq: 12},
	}
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), extracted)
	_, span := p.Tracer("").Start(ctx, "GET /taste", trace.WithKind(trace.KindServer))
	span.End()
	p.Flush(context.Background())
	d := rec.Spans()[0]
	fmt.Println(d.TraceID == extracted.TraceID, d.ParentID == extracted.SpanID, d.StartCause.EventID)
	// Output: true true 0000000000003d38:12
}

// A consumer names the producer's send event, carried in the message, as the cause of its span, and records a
// lock hand-over as a causal event.
func ExampleWithCause() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	sent := trace.EventRef{EventID: trace.EventID{Unit: 0xaa, Seq: 4}} // from the message's headers
	ctx, span := p.Tracer("").Start(context.Background(), "consume order", trace.WithKind(trace.KindConsumer),
		trace.WithCause(sent))
	released := trace.EventRef{EventID: trace.EventID{Unit: 0xbb, Seq: 9}} // the holder's release
	span.AddCausalEvent(ctx, trace.EventLockAcq, released)
	span.End()
	p.Flush(context.Background())
	d := rec.Spans()[0]
	fmt.Println(d.StartCause.EventID, d.Events[0].Name, d.Events[0].Cause.EventID)
	// Output: 00000000000000aa:4 weft.lock.acquire 00000000000000bb:9
}

func ExampleDefault() {
	// Before SetDefault, the package-level Start records into a provider that exports nothing.
	fmt.Println(trace.Default() != nil)
	// Output: true
}

// A callback that is handed only the span (by a library that keeps spans, not contexts) makes it current again
// to start its children under it.
func ExampleContextWithSpan() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	tr := p.Tracer("")
	_, req := tr.Start(context.Background(), "GET /pair")

	onDone := func(s *trace.Span) {
		_, child := tr.Start(trace.ContextWithSpan(context.Background(), s), "write response")
		child.End()
	}
	onDone(req)
	req.End()

	p.Flush(context.Background())
	spans := byName(rec.Spans())
	fmt.Println(spans[1].Name, "is a child of", spans[0].Name+":", spans[1].ParentID == spans[0].SpanID)
	// Output: write response is a child of GET /pair: true
}
