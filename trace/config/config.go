// Package config builds a configured trace.Provider, exporter and propagator from the standard OpenTelemetry
// environment variables, so that a program's tracing is set up with one call and changed without rebuilding:
//
//	p, prop, err := config.FromEnv()
//
// It sits beside the core package trace and uses the library's exporters (trace/export/...), samplers
// (trace/sample) and propagators (trace/propagation). It depends on nothing outside the standard library: the
// gRPC exporter lives in its own module and registers itself here (RegisterExporter) when the program imports
// github.com/weftrace/weft/trace/export/otlpgrpc.
//
// The variables read, with their defaults:
//
//	OTEL_SERVICE_NAME                      the service (wins over service.name in the resource attributes)
//	OTEL_RESOURCE_ATTRIBUTES               k=v,k2=v2 (values percent-decoded)
//	OTEL_TRACES_EXPORTER                   otlp (default), zipkin, console, none
//	OTEL_EXPORTER_OTLP_ENDPOINT            http://localhost:4318 (http/protobuf; /v1/traces is appended) or
//	                                       http://localhost:4317 (grpc)
//	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT     the full traces URL, used as is
//	OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL   http/protobuf (default) or grpc
//	OTEL_EXPORTER_OTLP[_TRACES]_HEADERS    k=v,k2=v2 (values percent-decoded)
//	OTEL_EXPORTER_OTLP[_TRACES]_COMPRESSION gzip (default) or none
//	OTEL_EXPORTER_OTLP[_TRACES]_TIMEOUT    milliseconds per export (default 10000)
//	OTEL_EXPORTER_ZIPKIN_ENDPOINT          http://localhost:9411/api/v2/spans
//	OTEL_TRACES_SAMPLER                    parentbased_always_on (default), always_on, always_off, traceidratio,
//	                                       parentbased_always_off, parentbased_traceidratio
//	OTEL_TRACES_SAMPLER_ARG                the ratio for the traceidratio samplers, 0 to 1 (default 1)
//	OTEL_PROPAGATORS                       tracecontext,baggage (default); also b3, b3multi, jaeger, datadog, none
//	OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT (ms), OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE
//	OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_EVENT_COUNT_LIMIT, OTEL_SPAN_LINK_COUNT_LIMIT
//	OTEL_SDK_DISABLED                      true: record and export nothing (propagation still works)
//
// A value that does not parse is an error naming the variable; every bad variable is reported at once.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/export/otlphttp"
	"github.com/weftrace/weft/trace/export/stdout"
	"github.com/weftrace/weft/trace/export/zipkin"
	"github.com/weftrace/weft/trace/propagation"
	"github.com/weftrace/weft/trace/sample"
)

// Settings is what the environment asks for, before anything is built. Load fills it; a program may change it
// before calling NewProvider.
type Settings struct {
	Resource   *trace.Resource
	Sampler    trace.Sampler
	Propagator propagation.Composite
	Exporter   ExporterSettings
	// Provider holds the batching and limit settings; its Resource, Sampler and Exporter are set by NewProvider.
	Provider trace.Config
}

// ExporterSettings describe the exporter to build.
type ExporterSettings struct {
	// Kind is OTEL_TRACES_EXPORTER: "otlp", "zipkin", "console" or "none".
	Kind string
	// Protocol is the OTLP protocol: "http/protobuf" or "grpc" (any protocol registered with RegisterExporter).
	Protocol string
	// Endpoint is where spans go: the full traces URL for http/protobuf and zipkin, the server for grpc.
	Endpoint string
	// Headers are sent with every export.
	Headers map[string]string
	// Compression is "gzip" or "none".
	Compression string
	// Timeout bounds one export.
	Timeout time.Duration
}

// ExporterFactory builds an exporter for an OTLP protocol.
type ExporterFactory func(ExporterSettings) (trace.Exporter, error)

var (
	factoriesMu sync.RWMutex
	factories   = map[string]ExporterFactory{}
)

// RegisterExporter makes an OTLP protocol available to NewProvider, as OTEL_EXPORTER_OTLP_PROTOCOL=protocol.
// The gRPC exporter (trace/export/otlpgrpc) registers "grpc" when imported; http/protobuf is built in.
func RegisterExporter(protocol string, f ExporterFactory) {
	factoriesMu.Lock()
	defer factoriesMu.Unlock()
	factories[protocol] = f
}

func factory(protocol string) (ExporterFactory, bool) {
	factoriesMu.RLock()
	defer factoriesMu.RUnlock()
	f, ok := factories[protocol]
	return f, ok
}

// EnvError is a variable whose value cannot be used.
type EnvError struct {
	Var, Value, Reason string
}

// Error names the variable, its value and what is wrong with it.
func (e *EnvError) Error() string {
	return "config: " + e.Var + "=" + strconv.Quote(e.Value) + ": " + e.Reason
}

// FromEnv reads the environment and builds the provider and propagator it describes. The caller typically
// makes the provider the default (trace.SetDefault) and shuts it down at exit.
func FromEnv() (*trace.Provider, propagation.Composite, error) {
	s, err := Load(os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	p, err := s.NewProvider()
	if err != nil {
		return nil, nil, err
	}
	return p, s.Propagator, nil
}

// Load reads the settings from getenv (os.Getenv, or a map's lookup in tests). It reports every variable it
// cannot use, joined into one error.
func Load(getenv func(string) string) (*Settings, error) {
	l := loader{getenv: getenv}
	s := &Settings{}
	s.Resource = l.resource()
	s.Sampler = l.sampler()
	s.Propagator = l.propagators()
	s.Exporter = l.exporter()
	s.Provider = trace.Config{
		BatchTimeout:  l.millis("OTEL_BSP_SCHEDULE_DELAY"),
		ExportTimeout: l.millis("OTEL_BSP_EXPORT_TIMEOUT"),
		QueueSize:     l.count("OTEL_BSP_MAX_QUEUE_SIZE"),
		BatchSize:     l.count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
		MaxAttrs:      l.count("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"),
		MaxEvents:     l.count("OTEL_SPAN_EVENT_COUNT_LIMIT"),
		MaxLinks:      l.count("OTEL_SPAN_LINK_COUNT_LIMIT"),
	}
	switch v := l.get("OTEL_SDK_DISABLED"); strings.ToLower(v) {
	case "", "false":
	case "true":
		s.Sampler = sample.Never()
		s.Exporter = ExporterSettings{Kind: "none"}
	default:
		l.fail("OTEL_SDK_DISABLED", v, "want true or false")
	}
	if s.Exporter.Timeout > 0 && s.Provider.ExportTimeout == 0 {
		s.Provider.ExportTimeout = s.Exporter.Timeout
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return s, nil
}

// NewProvider builds the exporter the settings describe and a Provider around it.
func (s *Settings) NewProvider() (*trace.Provider, error) {
	exp, err := s.Exporter.New()
	if err != nil {
		return nil, err
	}
	cfg := s.Provider
	cfg.Resource, cfg.Sampler, cfg.Exporter = s.Resource, s.Sampler, exp
	return trace.NewProvider(cfg), nil
}

// New builds the exporter; nil for Kind "none".
func (e ExporterSettings) New() (trace.Exporter, error) {
	switch e.Kind {
	case "none":
		return nil, nil
	case "console":
		return stdout.New(nil), nil
	case "zipkin":
		return zipkin.New(zipkin.Config{Endpoint: e.Endpoint, Headers: e.Headers})
	}
	if e.Protocol == "http/protobuf" {
		return otlphttp.New(otlphttp.Config{Endpoint: e.Endpoint, Headers: e.Headers, Compression: e.Compression})
	}
	f, ok := factory(e.Protocol)
	if !ok {
		if e.Protocol == "grpc" {
			return nil, errors.New(`config: OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the gRPC exporter: import _ "github.com/weftrace/weft/trace/export/otlpgrpc"`)
		}
		return nil, fmt.Errorf("config: no exporter registered for OTLP protocol %q", e.Protocol)
	}
	return f(e)
}

type loader struct {
	getenv func(string) string
	errs   []error
}

func (l *loader) get(name string) string { return strings.TrimSpace(l.getenv(name)) }

func (l *loader) fail(name, value, reason string) {
	l.errs = append(l.errs, &EnvError{Var: name, Value: value, Reason: reason})
}

// first returns the first of the variables that is set, and its name.
func (l *loader) first(names ...string) (string, string) {
	for _, n := range names {
		if v := l.get(n); v != "" {
			return n, v
		}
	}
	return names[len(names)-1], ""
}

func (l *loader) resource() *trace.Resource {
	r := &trace.Resource{}
	if v := l.get("OTEL_RESOURCE_ATTRIBUTES"); v != "" {
		kvs, err := parseKeyValues(v)
		if err != nil {
			l.fail("OTEL_RESOURCE_ATTRIBUTES", v, err.Error())
		}
		for _, kv := range kvs {
			if kv[0] == "service.name" {
				r.Service = kv[1]
				continue
			}
			r.Attrs = append(r.Attrs, trace.String(kv[0], kv[1]))
		}
	}
	if v := l.get("OTEL_SERVICE_NAME"); v != "" {
		r.Service = v
	}
	if r.Service == "" {
		r.Service = "unknown_service"
	}
	return r
}

func (l *loader) sampler() trace.Sampler {
	const argVar = "OTEL_TRACES_SAMPLER_ARG"
	name := l.get("OTEL_TRACES_SAMPLER")
	ratio := func() trace.Sampler {
		arg := l.get(argVar)
		if arg == "" {
			return sample.Ratio(1)
		}
		f, err := strconv.ParseFloat(arg, 64)
		if err != nil || f < 0 || f > 1 {
			l.fail(argVar, arg, "want a ratio from 0 to 1")
			return nil
		}
		return sample.Ratio(f)
	}
	switch name {
	case "", "parentbased_always_on":
		return sample.ParentBased(sample.Always())
	case "always_on":
		return sample.Always()
	case "always_off":
		return sample.Never()
	case "parentbased_always_off":
		return sample.ParentBased(sample.Never())
	case "traceidratio":
		return ratio()
	case "parentbased_traceidratio":
		if r := ratio(); r != nil {
			return sample.ParentBased(r)
		}
		return nil
	}
	l.fail("OTEL_TRACES_SAMPLER", name, "want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio")
	return nil
}

func (l *loader) propagators() propagation.Composite {
	const name = "OTEL_PROPAGATORS"
	v := l.get(name)
	if v == "" {
		return propagation.Default()
	}
	var out propagation.Composite
	for _, n := range strings.Split(v, ",") {
		n = strings.TrimSpace(n)
		if n == "none" {
			return propagation.Composite{}
		}
		p, ok := propagation.ByName(n)
		if !ok {
			l.fail(name, v, "unknown propagator "+strconv.Quote(n)+"; want tracecontext, baggage, b3, b3multi, jaeger, datadog or none")
			continue
		}
		out = append(out, p)
		if n == "jaeger" { // Jaeger's baggage headers come with its trace context, as in Jaeger's own clients
			out = append(out, propagation.JaegerBaggage{})
		}
	}
	return out
}

func (l *loader) exporter() ExporterSettings {
	e := ExporterSettings{Kind: l.get("OTEL_TRACES_EXPORTER")}
	switch e.Kind {
	case "":
		e.Kind = "otlp"
	case "otlp", "none", "console":
	case "zipkin":
		e.Endpoint = l.get("OTEL_EXPORTER_ZIPKIN_ENDPOINT")
		if e.Endpoint != "" {
			l.url("OTEL_EXPORTER_ZIPKIN_ENDPOINT", e.Endpoint)
		}
		return e
	default:
		l.fail("OTEL_TRACES_EXPORTER", e.Kind, "want otlp, zipkin, console or none (one exporter)")
	}

	pvar, proto := l.first("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
	switch proto {
	case "":
		proto = "http/protobuf"
	case "http/protobuf", "grpc":
	default:
		if _, ok := factory(proto); !ok {
			l.fail(pvar, proto, "want http/protobuf or grpc")
		}
	}
	e.Protocol = proto

	if v := l.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); v != "" {
		e.Endpoint = v
		l.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", v)
	} else if v := l.get("OTEL_EXPORTER_OTLP_ENDPOINT"); v != "" {
		l.url("OTEL_EXPORTER_OTLP_ENDPOINT", v)
		e.Endpoint = v
		if proto == "http/protobuf" {
			e.Endpoint = strings.TrimSuffix(v, "/") + "/v1/traces"
		}
	} else if proto == "http/protobuf" {
		e.Endpoint = otlphttp.DefaultEndpoint
	} else {
		e.Endpoint = "http://localhost:4317"
	}

	if hvar, v := l.first("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"); v != "" {
		kvs, err := parseKeyValues(v)
		if err != nil {
			l.fail(hvar, v, err.Error())
		}
		e.Headers = make(map[string]string, len(kvs))
		for _, kv := range kvs {
			e.Headers[kv[0]] = kv[1]
		}
	}
	cvar, c := l.first("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION")
	switch c {
	case "", "gzip":
		e.Compression = "gzip"
	case "none":
		e.Compression = "none"
	default:
		l.fail(cvar, c, "want gzip or none")
	}
	tvar, _ := l.first("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
	e.Timeout = l.millis(tvar)
	return e
}

// url checks that v is an http or https URL with a host.
func (l *loader) url(name, v string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.fail(name, v, "want an http or https URL")
	}
}

func (l *loader) millis(name string) time.Duration {
	v := l.get(name)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 {
		l.fail(name, v, "want a positive number of milliseconds")
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

func (l *loader) count(name string) int {
	v := l.get(name)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 31)
	if err != nil || n == 0 {
		l.fail(name, v, "want a positive integer")
		return 0
	}
	return int(n)
}

// parseKeyValues reads the k=v,k2=v2 lists of OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS, values
// percent-decoded. It returns the pairs it could read and an error for the first it could not.
func parseKeyValues(s string) ([][2]string, error) {
	var out [][2]string
	var firstErr error
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			if firstErr == nil {
				firstErr = fmt.Errorf("%q is not key=value", item)
			}
			continue
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("value of %q is not percent-encoded correctly", k)
			}
			continue
		}
		out = append(out, [2]string{k, dv})
	}
	return out, firstErr
}
