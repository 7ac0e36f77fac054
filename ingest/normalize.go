package ingest

import (
	"net/url"
	"strings"
	"unsafe"

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
// method and a path, so that "GET /route" is made once rather than once per span, and which of the keys it looks at
// the last span's first attributes had, by position (it tells a key by where its bytes are, so keys must be strings
// whose bytes never change, as Go's are, not views of a buffer that is reused). Its zero value is ready to use; it is
// not safe for concurrent use.
type Normalizer struct {
	joined [32]joinedResource
	// SDKs write a kind of span's attributes in one order, with keys a decoder makes once: a key that is the string
	// at its position in the last span (the same bytes in memory, kept alive here, so the same text) is that key.
	keys  [keyHints]string
	kinds [keyHints]uint8
}

type joinedResource struct{ method, path, resource string }

// keyHints is how many of a span's first attributes the Normalizer remembers the keys of.
const keyHints = 16

// Normalize is the package's Normalize.
func (n *Normalizer) Normalize(s *model.Span) { normalize(s, n) }

// learnKey is conventionKey for the key of a span's attribute at position i that is not the one remembered there
// (Normalize compares them), and remembers it.
func (n *Normalizer) learnKey(i int, key string) uint8 {
	k := conventionKey(key)
	if n != nil && i < keyHints {
		n.keys[i], n.kinds[i] = key, k
	}
	return k
}

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
	if s.SpanResource != "" && s.SpanType != "" {
		return
	}
	// One pass finds both the conventions and whether there are Datadog fields to take: taking them removes only
	// attributes that are no convention, so the conventions found before are those of the attributes left.
	var c conventions
	datadog := false
	for i := range s.Attrs {
		a := &s.Attrs[i]
		if a.Value.Type != model.TypeString || a.Value.Str == "" {
			continue
		}
		var k uint8
		if n != nil && i < keyHints && unsafe.StringData(n.keys[i]) == unsafe.StringData(a.Key) && len(n.keys[i]) == len(a.Key) {
			k = n.kinds[i]
		} else {
			k = n.learnKey(i, a.Key)
		}
		switch k {
		case keyNone:
		case keyResourceName, keySpanType:
			datadog = true
		default:
			c.see(k, a.Value.Str)
		}
	}
	if datadog {
		takeDatadogFields(s)
		if s.SpanResource != "" && s.SpanType != "" {
			return
		}
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

// The attribute keys Normalize looks at. Where an old and a new name give the same thing, the new one wins over the
// old wherever they are, and of two old ones the first is taken.
const (
	keyNone = iota
	keyHTTPRoute
	keyHTTPTarget // http.target, http.path
	keyURLPath
	keyHTTPURL
	keyHTTPMethodOld
	keyHTTPMethod
	keyDBStatementOld
	keyDBQueryText
	keyDBOperationOld
	keyDBOperationName
	keyDBSystem
	keyRPCService
	keyRPCMethod
	keyMsgDestinationOld
	keyMsgDestinationName
	keyMsgSystem
	keyResourceName
	keySpanType
)

// conventionKeys finds a key among those Normalize looks at without comparing it with each: they all differ in
// their length, first and last byte, which keySlot maps to different slots, so a key is compared with one of them
// at most, and most keys that are none of them are told by their slot's length alone.
var conventionKeys = func() (t [64]struct {
	key  string
	kind uint8
}) {
	for key, kind := range map[string]uint8{
		"http.route": keyHTTPRoute, "url.template": keyHTTPRoute,
		"http.target": keyHTTPTarget, "http.path": keyHTTPTarget, "url.path": keyURLPath,
		"url.full": keyHTTPURL, "http.url": keyHTTPURL,
		"http.method": keyHTTPMethodOld, "http.request.method": keyHTTPMethod,
		"db.statement": keyDBStatementOld, "db.query.text": keyDBQueryText,
		"db.operation": keyDBOperationOld, "db.operation.name": keyDBOperationName,
		"db.system": keyDBSystem, "db.system.name": keyDBSystem,
		"rpc.service": keyRPCService, "rpc.method": keyRPCMethod,
		"messaging.destination": keyMsgDestinationOld, "messaging.destination.name": keyMsgDestinationName,
		"messaging.system": keyMsgSystem,
		"resource.name":    keyResourceName, "span.type": keySpanType,
	} {
		e := &t[keySlot(key)]
		if e.key != "" {
			panic("ingest: convention keys " + e.key + " and " + key + " share a slot")
		}
		e.key, e.kind = key, kind
	}
	return t
}()

func keySlot(key string) int {
	return (len(key)*5 + int(key[0])*3 + int(key[len(key)-1])) & 63 // conventionKeys has 64 slots
}

// conventionKey is which of the keys Normalize looks at key is, or keyNone.
func conventionKey(key string) uint8 {
	if key == "" {
		return keyNone
	}
	e := &conventionKeys[keySlot(key)]
	if len(e.key) != len(key) || e.key != key {
		return keyNone
	}
	return e.kind
}

// conventions holds the values of the keys Normalize looks at, by key, found in one pass over a span's attributes
// (keyNone is not used). Of a key that occurs more than once the last value is kept, or the first for the old names
// that a newer one replaces (firstWins): the newer one, anywhere, wins over them.
type conventions [keyMsgSystem + 1]string

// firstWins are the old names of which the first value is kept.
const firstWins = 1<<keyHTTPTarget | 1<<keyHTTPMethodOld | 1<<keyDBStatementOld | 1<<keyDBOperationOld |
	1<<keyMsgDestinationOld

// see takes the value v of an attribute whose key is k.
func (c *conventions) see(k uint8, v string) {
	if firstWins>>k&1 == 0 || c[k] == "" {
		c[k] = v
	}
}

// either is the value of the newer key if there is one, else the older's.
func (c *conventions) either(newer, older uint8) string {
	if c[newer] != "" {
		return c[newer]
	}
	return c[older]
}

func (c *conventions) classify(kind model.Kind, n *Normalizer) (resource, typ string) {
	switch {
	case c[keyDBQueryText] != "" || c[keyDBStatementOld] != "" || c[keyDBOperationName] != "" ||
		c[keyDBOperationOld] != "" || c[keyDBSystem] != "":
		resource = c.either(keyDBQueryText, keyDBStatementOld)
		if resource == "" {
			resource = c.either(keyDBOperationName, keyDBOperationOld)
		}
		if cacheSystem(c[keyDBSystem]) {
			return resource, "cache"
		}
		return resource, "db"
	case c[keyMsgDestinationName] != "" || c[keyMsgDestinationOld] != "" || c[keyMsgSystem] != "":
		return c.either(keyMsgDestinationName, keyMsgDestinationOld), "queue"
	case c[keyRPCMethod] != "" || c[keyRPCService] != "":
		service, method := c[keyRPCService], c[keyRPCMethod]
		switch {
		case service == "":
			return method, "rpc"
		case method == "":
			return service, "rpc"
		}
		return service + "/" + method, "rpc"
	}
	method := c.either(keyHTTPMethod, keyHTTPMethodOld)
	target := c.either(keyURLPath, keyHTTPTarget)
	if method == "" && c[keyHTTPRoute] == "" && target == "" && c[keyHTTPURL] == "" {
		return "", ""
	}
	path := c[keyHTTPRoute]
	if path == "" {
		path = stripQuery(target)
	}
	if path == "" && c[keyHTTPURL] != "" {
		if p, ok := urlPath(c[keyHTTPURL]); ok {
			path = p
		} else if u, err := url.Parse(c[keyHTTPURL]); err == nil {
			path = u.Path
		}
	}
	switch {
	case path == "":
		resource = method
	case method == "":
		resource = path
	default:
		resource = n.join(method, path)
	}
	if kind == model.KindServer {
		return resource, "web"
	}
	return resource, "http"
}

// urlPath is the path of a URL as url.Parse gives it, for the URLs SDKs mostly send ("/path?query" and
// "scheme://host:port/path?query", with no escapes), found without url.Parse's allocation; ok is false for any other
// URL, which url.Parse must read.
func urlPath(s string) (path string, ok bool) {
	end := len(s) // the path ends at the query or the fragment
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == 0x7f || c == '%':
			return "", false
		case (c == '?' || c == '#') && end == len(s):
			end = i
		}
	}
	rest := s[:end]
	if rest != "" && rest[0] == '/' {
		return rest, len(rest) == 1 || rest[1] != '/'
	}
	i := 0
	for i < len(rest) && 'a' <= rest[i]|0x20 && rest[i]|0x20 <= 'z' {
		i++
	}
	if i == 0 || !strings.HasPrefix(rest[i:], "://") {
		return "", false
	}
	auth := rest[i+3:]
	j := strings.IndexByte(auth, '/')
	if j < 0 {
		j = len(auth)
	}
	port := false // past the host's colon: digits only
	for _, c := range []byte(auth[:j]) {
		switch {
		case '0' <= c && c <= '9':
		case c == ':' && !port:
			port = true
		case !port && ('a' <= c|0x20 && c|0x20 <= 'z' || c == '.' || c == '-'):
		default:
			return "", false
		}
	}
	return auth[j:], true
}

// cacheSystem reports whether a db.system names Redis or Memcached, in any case.
func cacheSystem(system string) bool {
	if system == "" {
		return false
	}
	if c := system[0]; c < 0x80 && c|0x20 != 'r' && c|0x20 != 'm' { // what lowers to r or m is R, M or not ASCII
		return false
	}
	return lowerIs(system, "redis") || lowerIs(system, "memcached")
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
