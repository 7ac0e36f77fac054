package zipkin

import (
	"bytes"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"

	"github.com/weftrace/weft/model"
)

// Span is a span in Zipkin's v2 JSON, the shape /api/v2/trace and /api/v2/traces answer.
type Span struct {
	TraceID        string            `json:"traceId"`
	ParentID       string            `json:"parentId,omitempty"`
	ID             string            `json:"id"`
	Kind           string            `json:"kind,omitempty"` // CLIENT, SERVER, PRODUCER, CONSUMER; empty for local spans
	Name           string            `json:"name,omitempty"`
	Timestamp      int64             `json:"timestamp,omitempty"` // Unix microseconds
	Duration       int64             `json:"duration,omitempty"`  // microseconds
	LocalEndpoint  *Endpoint         `json:"localEndpoint,omitempty"`
	RemoteEndpoint *Endpoint         `json:"remoteEndpoint,omitempty"`
	Annotations    []Annotation      `json:"annotations,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	Shared         bool              `json:"shared,omitempty"`
}

// Endpoint is the network context of one side of a span.
type Endpoint struct {
	ServiceName string `json:"serviceName,omitempty"`
	IPv4        string `json:"ipv4,omitempty"`
	IPv6        string `json:"ipv6,omitempty"`
	Port        int    `json:"port,omitempty"`
}

// Annotation is a timestamped event of a span.
type Annotation struct {
	Timestamp int64  `json:"timestamp"` // Unix microseconds
	Value     string `json:"value"`
}

// DependencyLink is an edge of /api/v2/dependencies.
type DependencyLink struct {
	Parent     string `json:"parent"`
	Child      string `json:"child"`
	CallCount  int64  `json:"callCount"`
	ErrorCount int64  `json:"errorCount,omitempty"`
}

// traceIDText is Zipkin's form: 16 hex digits for a 64-bit ID, 32 for a 128-bit one.
func traceIDText(id model.TraceID) string {
	if id[0]|id[1]|id[2]|id[3]|id[4]|id[5]|id[6]|id[7] == 0 {
		return hex.EncodeToString(id[8:])
	}
	return id.String()
}

// micros converts nanoseconds to microseconds, keeping a positive duration at least 1 as Zipkin requires.
func micros(ns int64) int64 {
	us := ns / 1000
	if us == 0 && ns > 0 {
		return 1
	}
	return us
}

// EncodeTrace converts the spans of one trace to Zipkin v2 spans, ordered by start time.
func EncodeTrace(spans []*model.Span) []Span {
	sorted := append([]*model.Span(nil), spans...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Start != sorted[j].Start {
			return sorted[i].Start < sorted[j].Start
		}
		return bytes.Compare(sorted[i].SpanID[:], sorted[j].SpanID[:]) < 0
	})
	out := make([]Span, len(sorted))
	for i, s := range sorted {
		out[i] = EncodeSpan(s)
	}
	return out
}

// EncodeSpan converts one span. Attributes of the span and of its resource become tags (the span's win), values as
// text; a failed span carries the tag error (its status message, or "true"); events become annotations; the weft
// library's causal fields become weft.* tags; peer.service, network.peer.address (or net.peer.ip) and
// network.peer.port (or net.peer.port) make the remote endpoint.
func EncodeSpan(s *model.Span) Span {
	z := Span{
		TraceID:   traceIDText(s.TraceID),
		ID:        s.SpanID.String(),
		Name:      s.Name,
		Timestamp: micros(s.Start),
		Duration:  micros(s.Duration),
		Shared:    s.Flags&model.FlagShared != 0,
	}
	if !s.ParentID.IsZero() {
		z.ParentID = s.ParentID.String()
	}
	switch s.Kind {
	case model.KindServer, model.KindClient, model.KindProducer, model.KindConsumer:
		z.Kind = strings.ToUpper(s.Kind.String())
	}
	if svc := s.Service(); svc != "" {
		z.LocalEndpoint = &Endpoint{ServiceName: svc}
	}
	tags := map[string]string{}
	if s.Resource != nil {
		for _, a := range s.Resource.Attrs {
			tags[a.Key] = a.Value.AsString()
		}
	}
	var remote Endpoint
	for _, a := range s.Attrs {
		v := a.Value.AsString()
		tags[a.Key] = v
		switch a.Key {
		case "peer.service":
			remote.ServiceName = v
		case "network.peer.address", "net.peer.ip", "net.sock.peer.addr":
			if ip := parseIP(v); strings.Contains(ip, ":") {
				remote.IPv6 = ip
			} else if ip != "" {
				remote.IPv4 = ip
			}
		case "network.peer.port", "net.peer.port", "net.sock.peer.port":
			if p, err := strconv.Atoi(v); err == nil && p > 0 && p < 65536 {
				remote.Port = p
			}
		}
	}
	if remote != (Endpoint{}) {
		z.RemoteEndpoint = &remote
	}
	if s.IsError() {
		msg := s.StatusMessage
		if msg == "" {
			msg = "true"
		}
		tags["error"] = msg
	}
	if c := s.Causality; !c.IsZero() {
		tags["weft.unit"] = unitText(c.Unit)
		tags["weft.seq.start"] = strconv.FormatUint(uint64(c.StartSeq), 10)
		tags["weft.seq.end"] = strconv.FormatUint(uint64(c.EndSeq), 10)
		if c.EndUnit != 0 && c.EndUnit != c.Unit {
			tags["weft.unit.end"] = unitText(c.EndUnit)
		}
		if !c.StartCause.IsZero() {
			tags["weft.cause"] = causeText(c.StartCause)
		}
	}
	if len(tags) > 0 {
		z.Tags = tags
	}
	for _, e := range s.Events {
		z.Annotations = append(z.Annotations, Annotation{Timestamp: micros(e.Time), Value: e.Name})
	}
	return z
}

// parseIP keeps text that looks like an IP address (digits, dots, hex and colons).
func parseIP(s string) string {
	if s == "" || len(s) > 45 {
		return ""
	}
	for _, c := range s {
		if !(c == '.' || c == ':' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')) {
			return ""
		}
	}
	return s
}

func unitText(u uint64) string {
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = byte(u)
		u >>= 8
	}
	return hex.EncodeToString(b[:])
}

// causeText is the causal wire format: "<unit>:<seq>", or "<trace>:<unit>:<seq>" for another trace.
func causeText(r model.EventRef) string {
	s := unitText(r.Unit) + ":" + strconv.FormatUint(uint64(r.Seq), 10)
	if !r.TraceID.IsZero() {
		s = r.TraceID.String() + ":" + s
	}
	return s
}
