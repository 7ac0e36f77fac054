package propagation

import (
	"context"
	"net/url"
	"slices"
	"strings"
)

// jaegerBaggagePrefix starts the name of each header that carries one Jaeger baggage item.
const jaegerBaggagePrefix = "uberctx-"

// JaegerBaggage propagates the Baggage in a context as Jaeger's baggage headers, one per member:
// uberctx-{key}: {value}, the value URL-encoded as Jaeger's clients write it. Extract adds the items it reads to
// the context's Baggage (a W3C baggage member of the same key is replaced), in key order; Inject writes every
// member of the context's Baggage, whatever format it came in. Keys travel in lowercase: HTTP header names are
// case-insensitive, and Jaeger's clients lowercase them. It carries no span context, so a Composite always runs
// it; put it beside Jaeger (config does, for OTEL_PROPAGATORS=jaeger).
//
// Extract needs the carrier's keys: it reads an http.Header (HeaderCarrier), a MapCarrier, or any KeysCarrier.
// An item whose key is not an HTTP token or whose value does not decode is counted (as Jaeger) and ignored, and
// so are the items past W3C baggage's limits (180 members, 8192 bytes as a baggage header).
type JaegerBaggage struct{}

// KeysCarrier is a Carrier that can list its keys, as propagators whose header names are not fixed (Jaeger's
// uberctx-{key}) need.
type KeysCarrier interface {
	Carrier
	// Keys returns the keys the carrier holds, in any order.
	Keys() []string
}

// Keys returns the header names, canonical as http.Header keeps them.
func (h HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// Keys returns the map's keys.
func (m MapCarrier) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// Fields returns nothing: the header names depend on the baggage (uberctx-{key}).
func (JaegerBaggage) Fields() []string { return nil }

// Inject writes an uberctx-{key} header for each member of the context's Baggage.
func (JaegerBaggage) Inject(ctx context.Context, c Carrier) {
	for _, m := range BaggageFromContext(ctx).members {
		c.Set(jaegerBaggagePrefix+strings.ToLower(m.Key), url.QueryEscape(m.Value))
	}
}

// Extract returns ctx with the uberctx-* items of c added to its Baggage.
func (JaegerBaggage) Extract(ctx context.Context, c Carrier) context.Context {
	var items []Member
	add := func(name, value string) {
		if len(name) <= len(jaegerBaggagePrefix) || !strings.EqualFold(name[:len(jaegerBaggagePrefix)], jaegerBaggagePrefix) {
			return
		}
		key := strings.ToLower(name[len(jaegerBaggagePrefix):])
		v, err := url.QueryUnescape(trimOWS(value))
		if !validToken(key) || err != nil {
			fail(failJaeger)
			return
		}
		items = append(items, Member{Key: key, Value: v})
	}
	switch cc := c.(type) {
	case HeaderCarrier:
		for k, vs := range cc {
			if len(vs) > 0 {
				add(k, vs[0])
			}
		}
	case MapCarrier:
		for k, v := range cc {
			add(k, v)
		}
	case KeysCarrier:
		for _, k := range cc.Keys() {
			add(k, cc.Get(k))
		}
	}
	if len(items) == 0 {
		return ctx
	}
	// Map order is random: sort, so that the baggage (and the headers it is injected as) does not depend on it.
	// Two headers that differ only in case name the same item; the least value is kept.
	slices.SortFunc(items, func(a, b Member) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	// The baggage stays within W3C's limits (180 members, 8192 bytes as a baggage header), so that a W3C
	// propagator beside this one sends what the next service will take: past either, the rest is dropped.
	b := BaggageFromContext(ctx)
	members := make([]Member, 0, b.Len()+len(items))
	size := -1 // the header's length: members and the commas between them
	for _, m := range b.members {
		if _, dup := slices.BinarySearchFunc(items, m.Key, func(x Member, k string) int { return strings.Compare(x.Key, k) }); !dup {
			members = append(members, m)
			size += 1 + m.headerLen()
		}
	}
	for i, m := range items {
		if i > 0 && items[i-1].Key == m.Key {
			continue
		}
		size += 1 + m.headerLen()
		if len(members) == maxBaggageMembers || size > maxBaggageBytes {
			fail(failJaeger)
			break
		}
		members = append(members, m)
	}
	return ContextWithBaggage(ctx, Baggage{members: members})
}
