// Package redis traces go-redis v9 clients: NewHook returns a redis.Hook that makes a client span for every
// command, pipeline and transaction, and for dialing a connection inside a trace. It sits between a program and
// its Redis, and is a module of its own so that the library does not depend on go-redis.
//
//	rdb := redis.NewClient(&redis.Options{Addr: addr})
//	rdb.AddHook(weftredis.NewHook(weftredis.Options{}))
//
// The hook never changes what a command returns; redis.Nil (a missing key) is an answer, not an error. The
// commands go-redis sends by itself to set up a connection are part of the dial span, not spans of their own.
package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/weftrace/weft/trace"
)

// Attribute keys, as OpenTelemetry's database semantic conventions name them.
const (
	AttrSystem         = "db.system"
	AttrStatement      = "db.statement"
	AttrPipelineLength = "db.redis.pipeline_length"
	AttrPeerAddr       = "network.peer.address"
)

// Options configure the hook.
type Options struct {
	// Tracer starts the spans; nil means trace.Default().Tracer("weft/redis").
	Tracer *trace.Tracer
	// Service, when set, is the spans' own service (Datadog style: Redis shows as a service of its own).
	Service string
	// KeepValues records commands with their arguments; by default only the command and its key are kept and
	// the values are written as "?".
	KeepValues bool
}

type hook struct {
	t    *trace.Tracer
	opts Options
}

// NewHook returns a hook to add to a go-redis client with AddHook.
func NewHook(o Options) goredis.Hook {
	t := o.Tracer
	if t == nil {
		t = trace.Default().Tracer("weft/redis")
	}
	return &hook{t: t, opts: o}
}

// start begins a span only inside a trace: a client's background work (pool dials, health checks) outside any
// request is not worth a trace of its own.
func (h *hook) start(ctx context.Context, name, resource string, attrs ...trace.Attr) *trace.Span {
	if ctx == nil || (trace.SpanFromContext(ctx) == nil && !trace.SpanContextFromContext(ctx).IsValid()) {
		return nil
	}
	_, span := h.t.Start(ctx, name, trace.WithKind(trace.KindClient), trace.WithType("redis"), trace.WithResource(resource),
		trace.WithAttrs(attrs...))
	if span != nil && h.opts.Service != "" {
		span.SetService(h.opts.Service)
	}
	return span
}

func (h *hook) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		span := h.start(ctx, "redis.dial", "dial", trace.String(AttrSystem, "redis"), trace.String(AttrPeerAddr, addr))
		c, err := next(ctx, network, addr)
		finish(span, err)
		return c, err
	}
}

func (h *hook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if cmd == nil || handshake(cmd) {
			return next(ctx, cmd)
		}
		name := strings.ToUpper(cmd.Name())
		span := h.start(ctx, "redis."+name, name, trace.String(AttrSystem, "redis"), trace.String(AttrStatement, h.statement(cmd)))
		err := next(ctx, cmd)
		finish(span, err)
		return err
	}
}

func (h *hook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		all := true
		for _, c := range cmds {
			all = all && c != nil && handshake(c)
		}
		if all {
			return next(ctx, cmds)
		}
		var b strings.Builder
		names := make([]string, 0, len(cmds))
		for i, c := range cmds {
			if c == nil {
				continue
			}
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(h.statement(c))
			names = append(names, strings.ToUpper(c.Name()))
		}
		span := h.start(ctx, "redis.pipeline", strings.Join(names, " "), trace.String(AttrSystem, "redis"),
			trace.String(AttrStatement, b.String()), trace.Int(AttrPipelineLength, len(cmds)))
		err := next(ctx, cmds)
		if span != nil && err == nil {
			// A pipeline succeeds as a whole while single commands in it fail: record the first such failure.
			for _, c := range cmds {
				if c != nil && c.Err() != nil && !errors.Is(c.Err(), goredis.Nil) {
					span.RecordError(c.Err())
					break
				}
			}
		}
		finish(span, err)
		return err
	}
}

// handshake reports whether cmd is one go-redis sends on its own to set up a new connection (HELLO, CLIENT
// SETINFO, CLIENT MAINT_NOTIFICATIONS): part of the dial, not of the program's work, and failing harmlessly on
// servers that do not know them.
func handshake(cmd goredis.Cmder) bool {
	switch strings.ToLower(cmd.Name()) {
	case "hello":
		return true
	case "client":
		args := cmd.Args()
		if len(args) > 1 {
			sub := strings.ToLower(argString(args[1]))
			return sub == "setinfo" || sub == "maint_notifications"
		}
	}
	return false
}

func finish(span *trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil && !errors.Is(err, goredis.Nil) {
		span.RecordError(err)
	}
	span.End()
}

// statement is the command with its key and, unless KeepValues, its other arguments as "?".
func (h *hook) statement(cmd goredis.Cmder) string {
	args := cmd.Args()
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch {
		case i == 0:
			b.WriteString(strings.ToUpper(argString(a)))
		case i == 1 || h.opts.KeepValues:
			b.WriteString(argString(a))
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

func argString(a any) string {
	switch v := a.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case nil:
		return ""
	}
	return fmt.Sprint(a)
}
