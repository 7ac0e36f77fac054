package otlp_test

import (
	"fmt"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/export/otlp"
)

func ExampleAppendRequest() {
	res := &trace.Resource{Service: "matchmaker"}
	spans := []*trace.SpanData{{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, Name: "pair", Kind: trace.KindServer,
		Start: 1, End: 2, Resource: res, Scope: "example",
	}}
	body := otlp.AppendRequest(nil, spans) // the body of POST /v1/traces (Content-Type: application/x-protobuf)
	fmt.Println(len(body) > 0, body[0] == 0x0a)
	// Output: true true
}

func ExampleParseResponse() {
	// What a server answers when it refused 1 span: partial_success {rejected_spans: 1, error_message: "late"}.
	ps, err := otlp.ParseResponse([]byte{0x0a, 0x08, 0x08, 0x01, 0x12, 0x04, 'l', 'a', 't', 'e'})
	fmt.Println(ps.RejectedSpans, ps.ErrorMessage, err)
	// Output: 1 late <nil>
}

func ExampleAppendSpan() {
	d := &trace.SpanData{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, Name: "pair"}
	fmt.Println(len(otlp.AppendSpan(nil, d)))
	// Output: 54
}
