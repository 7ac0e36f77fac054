package otlp_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/otlp"
	"github.com/weftrace/weft/model"
)

// An OTLP/HTTP JSON export, received and handed to a consumer.
func ExampleNewHTTPHandler() {
	consumer := ingest.ConsumerFunc(func(_ context.Context, spans []*model.Span) error {
		for _, s := range spans {
			fmt.Println(s.Service(), s.Name, s.Kind, s.SpanResource, s.Duration)
		}
		return nil // durable: the request is acknowledged
	})
	h := otlp.NewHTTPHandler(consumer, ingest.Options{})

	body := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"matchmaker"}}]},
	  "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"pair",
	  "kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1000","endTimeUnixNano":"3000",
	  "attributes":[{"key":"http.route","value":{"stringValue":"/pair"}},{"key":"http.request.method","value":{"stringValue":"POST"}}]}]}]}]}`
	req := httptest.NewRequest(http.MethodPost, otlp.TracesPath, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// matchmaker pair server POST /pair 2000
	// 200 {}
}
