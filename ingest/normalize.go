package ingest

import (
	"net/url"
	"strings"

	"github.com/weftrace/weft/model"
)

// Normalize applies the conventions every receiver shares, after decoding and ExtractCausality. It fills
// SpanResource and SpanType when the client left them empty, from the OpenTelemetry semantic conventions (old and
// new attribute names alike):
//
//   - HTTP: http.route (or http.target, url.path, Zipkin's http.path, the path of url.full/http.url) with http.request.method (or
//     http.method) gives "GET /route"; the type is "web" on a server span and "http" otherwise;
//   - databases: db.query.text (or db.statement, else db.operation.name/db.operation) gives the resource; the
//     type is "cache" for Redis and Memcached and "db" for the rest;
//   - RPC: rpc.service and rpc.method give "service/method", type "rpc";
//   - messaging: messaging.destination.name (or messaging.destination) gives the resource, type "queue".
//
// It also clamps a negative duration to zero and an unknown kind to unspecified. It is idempotent.
func Normalize(s *model.Span) { normalize(s, nil) }

// Normalizer is Normalize for the many spans of one request: it remembers the last HTTP resources it joined from a
// method and a path, so that "GET /route" is made once rather than once per span. Its zero value is ready to use;
// it is not safe for concurrent use.
type Normalizer struct {
	joined [32]joinedResource
}

type joinedResource struct{ method, path, resource string }

// Normalize is the package's Normalize.
func (n *Normalizer) Normalize(s *model.Span) { normalize(s, n) }

// join is method + " " + path, remembered when n is not nil.
func (n *Normalizer) join(method, path string) string {
	if n == nil {
		return method + " " + path
	}
	j := &n.joined[(len(method)+len(path)*7+int(path[len(path)-1]))%len(n.joined)]
	if j.method != method || j.path != path || j.resource == "" {
		*j = joinedResource{method: method, path: path, resource: method + " " + path}
	}
	return j.resource
}

func normalize(s *model.Span, n *Normalizer) {
	if s.Duration < 0 {
		s.Duration = 0
	}
	if s.Kind > model.KindConsumer {
		s.Kind = model.KindUnspecified
	}
	if s.SpanResource == "" || s.SpanType == "" {
		takeDatadogFields(s)
	}
	if s.SpanResource != "" && s.SpanType != "" {
		return
	}
	var c conventions
	for i := range s.Attrs {
		c.see(&s.Attrs[i])
	}
	resource, typ := c.classify(s.Kind, n)
	if s.SpanResource == "" {
		s.SpanResource = resource
	}
	if s.SpanType == "" {
		s.SpanType = typ
	}
}

// takeDatadogFields moves the attributes by which OpenTelemetry clients (and the weft library's OTLP exporter) set
// Datadog's resource and type — resource.name and span.type — into the span's own fields.
func takeDatadogFields(s *model.Span) {
	// Most spans have neither attribute: find the first to take before writing anything, since rewriting every
	// attribute in place costs a copy and write barriers per attribute.
	first := -1
	for i := range s.Attrs {
		if takesDatadogField(s, &s.Attrs[i]) {
			first = i
			break
		}
	}
	if first < 0 {
		return
	}
	kept := s.Attrs[:first]
	for i := first; i < len(s.Attrs); i++ {
		a := &s.Attrs[i]
		if !takesDatadogField(s, a) {
			kept = append(kept, *a)
			continue
		}
		if a.Key == "resource.name" {
			s.SpanResource = a.Value.Str
		} else {
			s.SpanType = a.Value.Str
		}
	}
	clear(s.Attrs[len(kept):])
	s.Attrs = kept
}

// takesDatadogField reports whether a is resource.name or span.type, a non-empty string, for a span whose field
// of that name is still empty.
func takesDatadogField(s *model.Span, a *model.Attr) bool {
	if a.Value.Type != model.TypeString || a.Value.Str == "" {
		return false
	}
	return a.Key == "resource.name" && s.SpanResource == "" || a.Key == "span.type" && s.SpanType == ""
}

// conventions holds the string attributes Normalize looks at, found in one pass over a span's attributes.
type conventions struct {
	httpRoute, httpTarget, httpURL, httpMethod string
	dbStatement, dbOperation, dbSystem         string
	rpcService, rpcMethod                      string
	msgDestination                             string
	msgSystem                                  bool
}

func (c *conventions) see(a *model.Attr) {
	if a.Value.Type != model.TypeString || a.Value.Str == "" {
		return
	}
	v := a.Value.Str
	switch a.Key {
	case "http.route", "url.template":
		c.httpRoute = v
	case "http.target", "url.path", "http.path":
		if c.httpTarget == "" || a.Key == "url.path" {
			c.httpTarget = v
		}
	case "url.full", "http.url":
		c.httpURL = v
	case "http.request.method", "http.method":
		if c.httpMethod == "" || a.Key == "http.request.method" {
			c.httpMethod = v
		}
	case "db.query.text", "db.statement":
		if c.dbStatement == "" || a.Key == "db.query.text" {
			c.dbStatement = v
		}
	case "db.operation.name", "db.operation":
		if c.dbOperation == "" || a.Key == "db.operation.name" {
			c.dbOperation = v
		}
	case "db.system", "db.system.name":
		c.dbSystem = v
	case "rpc.service":
		c.rpcService = v
	case "rpc.method":
		c.rpcMethod = v
	case "messaging.destination.name", "messaging.destination":
		if c.msgDestination == "" || a.Key == "messaging.destination.name" {
			c.msgDestination = v
		}
	case "messaging.system":
		c.msgSystem = true
	}
}

func (c *conventions) classify(kind model.Kind, n *Normalizer) (resource, typ string) {
	switch {
	case c.dbStatement != "" || c.dbOperation != "" || c.dbSystem != "":
		resource = c.dbStatement
		if resource == "" {
			resource = c.dbOperation
		}
		if lowerIs(c.dbSystem, "redis") || lowerIs(c.dbSystem, "memcached") {
			return resource, "cache"
		}
		return resource, "db"
	case c.msgDestination != "" || c.msgSystem:
		return c.msgDestination, "queue"
	case c.rpcMethod != "" || c.rpcService != "":
		switch {
		case c.rpcService == "":
			return c.rpcMethod, "rpc"
		case c.rpcMethod == "":
			return c.rpcService, "rpc"
		}
		return c.rpcService + "/" + c.rpcMethod, "rpc"
	case c.httpMethod != "" || c.httpRoute != "" || c.httpTarget != "" || c.httpURL != "":
		path := c.httpRoute
		if path == "" {
			path = stripQuery(c.httpTarget)
		}
		if path == "" && c.httpURL != "" {
			if u, err := url.Parse(c.httpURL); err == nil {
				path = u.Path
			}
		}
		switch {
		case path == "":
			resource = c.httpMethod
		case c.httpMethod == "":
			resource = path
		default:
			resource = n.join(c.httpMethod, path)
		}
		if kind == model.KindServer {
			return resource, "web"
		}
		return resource, "http"
	}
	return "", ""
}

// lowerIs reports whether strings.ToLower(s) == lower, for lower in ASCII, without lowering an ASCII s. (Some
// letters that are not ASCII lower to ASCII ones, İ to i and the Kelvin sign to k: s is then lowered.)
func lowerIs(s, lower string) bool {
	if len(s) < len(lower) { // what lowers to ASCII is ASCII or longer
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return strings.ToLower(s) == lower
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if i >= len(lower) || c != lower[i] {
			return false
		}
	}
	return len(s) == len(lower)
}

func stripQuery(target string) string {
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		return target[:i]
	}
	return target
}
