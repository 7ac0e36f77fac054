package propagation

import (
	"context"
	"strings"
)

const (
	hBaggage = "baggage"

	maxBaggageMembers = 180
	maxBaggageBytes   = 8192
)

var baggageFields = []string{hBaggage}

// Baggage is a set of key/value pairs that travels with a request across processes in the W3C baggage header
// (https://www.w3.org/TR/baggage/). It is immutable: Set and Delete return a new Baggage. The zero value is
// empty and ready to use.
type Baggage struct {
	members []Member
}

// Member is one entry of a Baggage.
type Member struct {
	Key   string
	Value string // decoded: the header carries it percent-encoded
	// Properties are the member's metadata as written after its value, without the leading ';' (for example
	// "ttl=30;public"). weft keeps them verbatim and does not interpret them.
	Properties string
}

type baggageKey struct{}

// ContextWithBaggage returns ctx carrying b.
func ContextWithBaggage(ctx context.Context, b Baggage) context.Context {
	return context.WithValue(ctx, baggageKey{}, b)
}

// BaggageFromContext returns the baggage ctx carries, or an empty one.
func BaggageFromContext(ctx context.Context) Baggage {
	b, _ := ctx.Value(baggageKey{}).(Baggage)
	return b
}

// Len is the number of members.
func (b Baggage) Len() int { return len(b.members) }

// Get returns the value under key.
func (b Baggage) Get(key string) (string, bool) {
	for _, m := range b.members {
		if m.Key == key {
			return m.Value, true
		}
	}
	return "", false
}

// Members returns a copy of the members, in order.
func (b Baggage) Members() []Member { return append([]Member(nil), b.members...) }

// Set returns a copy of b with key set to value (replacing any member with that key, and its properties). The
// key must be an HTTP token; the value may hold any bytes.
func (b Baggage) Set(key, value string) (Baggage, error) {
	if !validToken(key) {
		return b, parseError(hBaggage, key, "key is not an HTTP token")
	}
	out := make([]Member, 0, len(b.members)+1)
	for _, m := range b.members {
		if m.Key != key {
			out = append(out, m)
		}
	}
	return Baggage{members: append(out, Member{Key: key, Value: value})}, nil
}

// Delete returns a copy of b without key.
func (b Baggage) Delete(key string) Baggage {
	out := make([]Member, 0, len(b.members))
	for _, m := range b.members {
		if m.Key != key {
			out = append(out, m)
		}
	}
	return Baggage{members: out}
}

// headerLen is the length of m in the baggage header, as String writes it.
func (m Member) headerLen() int {
	n := len(m.Key) + 1 + len(m.Value)
	for j := 0; j < len(m.Value); j++ {
		if c := m.Value[j]; !baggageOctet(c) || c == '%' {
			n += 2
		}
	}
	if m.Properties != "" {
		n += 1 + len(m.Properties)
	}
	return n
}

// String is the baggage header value: members joined by ',', values percent-encoded.
func (b Baggage) String() string {
	var sb strings.Builder
	for i, m := range b.members {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(m.Key)
		sb.WriteByte('=')
		for j := 0; j < len(m.Value); j++ {
			c := m.Value[j]
			if baggageOctet(c) && c != '%' {
				sb.WriteByte(c)
			} else {
				sb.WriteByte('%')
				sb.WriteByte("0123456789ABCDEF"[c>>4])
				sb.WriteByte("0123456789ABCDEF"[c&0x0f])
			}
		}
		if m.Properties != "" {
			sb.WriteByte(';')
			sb.WriteString(m.Properties)
		}
	}
	return sb.String()
}

// ParseBaggage parses a baggage header value. Any malformed member makes the whole header invalid, so that a
// request never carries half of what its sender meant; so do more than 180 members or 8192 bytes. A key given
// twice keeps its last value.
func ParseBaggage(s string) (Baggage, error) {
	if len(s) > maxBaggageBytes {
		return Baggage{}, parseError(hBaggage, s, "longer than 8192 bytes")
	}
	var b Baggage
	for rest := s; rest != ""; {
		var m string
		m, rest, _ = strings.Cut(rest, ",")
		if m = trimOWS(m); m == "" {
			continue
		}
		kv, props, _ := strings.Cut(m, ";")
		k, v, ok := strings.Cut(kv, "=")
		k, v = trimOWS(k), trimOWS(v)
		if !ok || !validToken(k) {
			return Baggage{}, parseError(hBaggage, s, "member "+m[:min(len(m), 32)]+" has no valid key")
		}
		dv, ok := percentDecode(v)
		if !ok {
			return Baggage{}, parseError(hBaggage, s, "value of "+k+" is not percent-encoded baggage octets")
		}
		props = trimOWS(props)
		if !validBaggageProperties(props) {
			return Baggage{}, parseError(hBaggage, s, "properties of "+k+" are malformed")
		}
		replaced := false
		for i := range b.members {
			if b.members[i].Key == k {
				b.members[i] = Member{Key: k, Value: dv, Properties: props}
				replaced = true
			}
		}
		if !replaced {
			if len(b.members) == maxBaggageMembers {
				return Baggage{}, parseError(hBaggage, s, "more than 180 members")
			}
			b.members = append(b.members, Member{Key: k, Value: dv, Properties: props})
		}
	}
	return b, nil
}

func validBaggageProperties(props string) bool {
	for rest := props; rest != ""; {
		var p string
		p, rest, _ = strings.Cut(rest, ";")
		k, v, hasValue := strings.Cut(trimOWS(p), "=")
		if !validToken(trimOWS(k)) {
			return false
		}
		if hasValue {
			if _, ok := percentDecode(trimOWS(v)); !ok {
				return false
			}
		}
	}
	return true
}

// baggageOctet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E.
func baggageOctet(c byte) bool {
	return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) ||
		(c >= 0x5d && c <= 0x7e)
}

func percentDecode(v string) (string, bool) {
	escaped := false
	for i := 0; i < len(v); i++ {
		if !baggageOctet(v[i]) {
			return "", false
		}
		escaped = escaped || v[i] == '%'
	}
	if !escaped {
		return v, true
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			out = append(out, v[i])
			continue
		}
		if i+2 >= len(v) {
			return "", false
		}
		hi, ok1 := hexVal(v[i+1], false)
		lo, ok2 := hexVal(v[i+2], false)
		if !ok1 || !ok2 {
			return "", false
		}
		out = append(out, hi<<4|lo)
		i += 2
	}
	return string(out), true
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// W3CBaggage propagates the Baggage in a context as the W3C baggage header. Repeated baggage headers are joined.
type W3CBaggage struct{}

// Fields returns baggage.
func (W3CBaggage) Fields() []string { return baggageFields }

// Inject writes the baggage header when ctx carries any baggage.
func (W3CBaggage) Inject(ctx context.Context, c Carrier) {
	if b := BaggageFromContext(ctx); b.Len() > 0 {
		c.Set(hBaggage, b.String())
	}
}

// Extract returns ctx with the baggage read from c. A malformed header is counted and ignored.
func (W3CBaggage) Extract(ctx context.Context, c Carrier) context.Context {
	var v string
	if vc, ok := c.(ValuesCarrier); ok {
		v = joinList(vc.Values(hBaggage))
	} else {
		v = c.Get(hBaggage)
	}
	if v = trimOWS(v); v == "" {
		return ctx
	}
	b, err := ParseBaggage(v)
	if err != nil {
		fail(failBaggage)
		return ctx
	}
	if b.Len() == 0 {
		return ctx
	}
	return ContextWithBaggage(ctx, b)
}
