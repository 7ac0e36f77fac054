package config

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/propagation"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, s *Settings)
	}{
		{"defaults", nil, func(t *testing.T, s *Settings) {
			want := ExporterSettings{Kind: "otlp", Protocol: "http/protobuf", Endpoint: "http://localhost:4318/v1/traces", Compression: "gzip"}
			if !reflect.DeepEqual(s.Exporter, want) {
				t.Errorf("exporter %+v, want %+v", s.Exporter, want)
			}
			if s.Resource.Service != "unknown_service" || len(s.Resource.Attrs) != 0 {
				t.Errorf("resource %+v", s.Resource)
			}
			if d := s.Sampler.Description(); d != "ParentBased{root:AlwaysSample}" {
				t.Errorf("sampler %s", d)
			}
			if !reflect.DeepEqual(s.Propagator, propagation.Default()) {
				t.Errorf("propagators %v", s.Propagator)
			}
		}},
		{"service and resource", map[string]string{
			"OTEL_SERVICE_NAME":        "matchmaker",
			"OTEL_RESOURCE_ATTRIBUTES": "service.name=ignored, service.version=1.2 ,deployment.environment=prod%20eu",
		}, func(t *testing.T, s *Settings) {
			want := &trace.Resource{Service: "matchmaker", Attrs: []trace.Attr{trace.String("service.version", "1.2"), trace.String("deployment.environment", "prod eu")}}
			if s.Resource.Service != want.Service || len(s.Resource.Attrs) != 2 || !s.Resource.Attrs[0].Equal(want.Attrs[0]) || !s.Resource.Attrs[1].Equal(want.Attrs[1]) {
				t.Errorf("resource %+v", s.Resource)
			}
		}},
		{"service.name from resource attributes", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=taster"}, func(t *testing.T, s *Settings) {
			if s.Resource.Service != "taster" {
				t.Errorf("service %q", s.Resource.Service)
			}
		}},
		{"base endpoint gets /v1/traces", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, func(t *testing.T, s *Settings) {
			if s.Exporter.Endpoint != "http://collector:4318/v1/traces" {
				t.Errorf("endpoint %q", s.Exporter.Endpoint)
			}
		}},
		{"traces endpoint used as is", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b/custom"}, func(t *testing.T, s *Settings) {
			if s.Exporter.Endpoint != "https://b/custom" {
				t.Errorf("endpoint %q", s.Exporter.Endpoint)
			}
		}},
		{"grpc", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, func(t *testing.T, s *Settings) {
			if s.Exporter.Protocol != "grpc" || s.Exporter.Endpoint != "http://collector:4317" {
				t.Errorf("exporter %+v", s.Exporter)
			}
		}},
		{"grpc default endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, func(t *testing.T, s *Settings) {
			if s.Exporter.Protocol != "grpc" || s.Exporter.Endpoint != "http://localhost:4317" {
				t.Errorf("exporter %+v", s.Exporter)
			}
		}},
		{"headers, compression, timeout", map[string]string{
			"OTEL_EXPORTER_OTLP_HEADERS": "api-key=s%3Dcret,x-tenant=brewery", "OTEL_EXPORTER_OTLP_COMPRESSION": "none",
			"OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
		}, func(t *testing.T, s *Settings) {
			if !reflect.DeepEqual(s.Exporter.Headers, map[string]string{"api-key": "s=cret", "x-tenant": "brewery"}) {
				t.Errorf("headers %v", s.Exporter.Headers)
			}
			if s.Exporter.Compression != "none" || s.Exporter.Timeout != 2500*time.Millisecond || s.Provider.ExportTimeout != 2500*time.Millisecond {
				t.Errorf("exporter %+v, provider %+v", s.Exporter, s.Provider)
			}
		}},
		{"zipkin", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_EXPORTER_ZIPKIN_ENDPOINT": "http://zipkin:9411/api/v2/spans"}, func(t *testing.T, s *Settings) {
			if s.Exporter.Kind != "zipkin" || s.Exporter.Endpoint != "http://zipkin:9411/api/v2/spans" {
				t.Errorf("exporter %+v", s.Exporter)
			}
		}},
		{"batching and limits", map[string]string{
			"OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10",
			"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "64", "OTEL_SPAN_EVENT_COUNT_LIMIT": "32", "OTEL_SPAN_LINK_COUNT_LIMIT": "16",
		}, func(t *testing.T, s *Settings) {
			want := trace.Config{BatchTimeout: 200 * time.Millisecond, QueueSize: 100, BatchSize: 10, MaxAttrs: 64, MaxEvents: 32, MaxLinks: 16}
			if !reflect.DeepEqual(s.Provider, want) {
				t.Errorf("provider %+v, want %+v", s.Provider, want)
			}
		}},
		{"propagators", map[string]string{"OTEL_PROPAGATORS": "b3multi, datadog,jaeger"}, func(t *testing.T, s *Settings) {
			want := propagation.Composite{propagation.B3Multi{}, propagation.Datadog{}, propagation.Jaeger{}, propagation.JaegerBaggage{}}
			if !reflect.DeepEqual(s.Propagator, want) {
				t.Errorf("propagators %v", s.Propagator)
			}
		}},
		{"disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "zipkin"}, func(t *testing.T, s *Settings) {
			if s.Exporter.Kind != "none" || s.Sampler.Description() != "NeverSample" {
				t.Errorf("exporter %+v sampler %s", s.Exporter, s.Sampler.Description())
			}
		}},
		{"propagators none", map[string]string{"OTEL_PROPAGATORS": "none"}, func(t *testing.T, s *Settings) {
			if len(s.Propagator) != 0 {
				t.Errorf("propagators %v", s.Propagator)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Load(env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func TestSamplers(t *testing.T) {
	tests := map[string]string{
		"":                             "ParentBased{root:AlwaysSample}",
		"always_on":                    "AlwaysSample",
		"always_off":                   "NeverSample",
		"parentbased_always_on":        "ParentBased{root:AlwaysSample}",
		"parentbased_always_off":       "ParentBased{root:NeverSample}",
		"traceidratio":                 "TraceIDRatioBased{1}",
		"traceidratio 0.25":            "TraceIDRatioBased{0.25}",
		"parentbased_traceidratio 0.5": "ParentBased{root:TraceIDRatioBased{0.5}}",
		"parentbased_traceidratio":     "ParentBased{root:TraceIDRatioBased{1}}",
	}
	for in, want := range tests {
		name, arg, _ := strings.Cut(in, " ")
		s, err := Load(env(map[string]string{"OTEL_TRACES_SAMPLER": name, "OTEL_TRACES_SAMPLER_ARG": arg}))
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := s.Sampler.Description(); got != want {
			t.Errorf("%q: sampler %s, want %s", in, got, want)
		}
	}
}

// TestBadValues: every unusable variable is named in the error.
func TestBadValues(t *testing.T) {
	bad := map[string]string{
		"OTEL_TRACES_SAMPLER":                   "jaeger_remote",
		"OTEL_EXPORTER_OTLP_PROTOCOL":           "http/json",
		"OTEL_PROPAGATORS":                      "tracecontext,xray",
		"OTEL_RESOURCE_ATTRIBUTES":              "novalue",
		"OTEL_EXPORTER_OTLP_HEADERS":            "k=%zz",
		"OTEL_EXPORTER_OTLP_ENDPOINT":           "collector:4318",
		"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "zstd",
		"OTEL_EXPORTER_OTLP_TIMEOUT":            "10s",
		"OTEL_BSP_MAX_QUEUE_SIZE":               "-1",
		"OTEL_TRACES_EXPORTER":                  "otlp,console",
		"OTEL_SDK_DISABLED":                     "yes",
	}
	_, err := Load(env(bad))
	if err == nil {
		t.Fatal("bad values accepted")
	}
	for k := range bad {
		if !strings.Contains(err.Error(), k+"=") {
			t.Errorf("error does not name %s:\n%v", k, err)
		}
	}
	for _, v := range []string{"-0.1", "1.5", "half"} {
		_, err := Load(env(map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": v}))
		if err == nil || !strings.Contains(err.Error(), "OTEL_TRACES_SAMPLER_ARG") {
			t.Errorf("ratio %q: %v", v, err)
		}
	}
}

func TestGRPCNeedsRegistration(t *testing.T) {
	s, err := Load(env(map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}))
	if err != nil {
		t.Fatal(err)
	}
	factoriesMu.Lock()
	saved, had := factories["grpc"]
	delete(factories, "grpc")
	factoriesMu.Unlock()
	defer func() {
		if had {
			RegisterExporter("grpc", saved)
		}
	}()
	if _, err := s.NewProvider(); err == nil || !strings.Contains(err.Error(), "otlpgrpc") {
		t.Errorf("error %v, want a hint to import otlpgrpc", err)
	}
	var got ExporterSettings
	RegisterExporter("grpc", func(es ExporterSettings) (trace.Exporter, error) { got = es; return &trace.Recorder{}, nil })
	defer func() {
		factoriesMu.Lock()
		delete(factories, "grpc")
		factoriesMu.Unlock()
	}()
	p, err := s.NewProvider()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	if got.Endpoint != "http://localhost:4317" {
		t.Errorf("factory given %+v", got)
	}
}

// TestProviderExportsToEndpoint builds everything from the environment and checks that spans reach the endpoint
// with the configured headers.
func TestProviderExportsToEndpoint(t *testing.T) {
	var requests atomic.Int32
	var tenant atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" {
			requests.Add(1)
			tenant.Store(r.Header.Get("X-Tenant"))
		}
	}))
	defer srv.Close()
	s, err := Load(env(map[string]string{
		"OTEL_SERVICE_NAME": "matchmaker", "OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL, "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=brewery",
	}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.NewProvider()
	if err != nil {
		t.Fatal(err)
	}
	_, span := p.Tracer("test").Start(context.Background(), "pair")
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if requests.Load() == 0 || tenant.Load() != "brewery" {
		t.Errorf("%d requests, tenant %v", requests.Load(), tenant.Load())
	}
}

func ExampleFromEnv() {
	p, prop, err := FromEnv()
	if err != nil {
		panic(err) // names every variable that could not be used
	}
	trace.SetDefault(p)
	defer p.Shutdown(context.Background())
	_ = prop // give it to the HTTP middleware
}

func ExampleLoad() {
	s, err := Load(env(map[string]string{
		"OTEL_SERVICE_NAME":   "matchmaker",
		"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1",
		"OTEL_PROPAGATORS":     "tracecontext,datadog",
		"OTEL_TRACES_EXPORTER": "none",
	}))
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Resource.Service, s.Sampler.Description(), s.Propagator.Fields())
	// Output: matchmaker ParentBased{root:TraceIDRatioBased{0.1}} [traceparent tracestate x-datadog-trace-id x-datadog-parent-id x-datadog-sampling-priority x-datadog-origin x-datadog-tags]
}

func ExampleRegisterExporter() {
	// What trace/export/otlpgrpc does when imported:
	RegisterExporter("grpc", func(s ExporterSettings) (trace.Exporter, error) {
		return &trace.Recorder{}, nil // a real factory dials s.Endpoint
	})
}
