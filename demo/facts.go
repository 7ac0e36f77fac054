package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weftrace/weft/trace"
)

// factStore holds the fast-changing facts about donuts (how many are left, when the last batch was baked):
// Redis when there is one, an in-process map otherwise. Both are traced alike, as Redis client spans.
type factStore interface {
	// do runs one command (GET, SET, INCRBY, MGET, ...) and returns its reply: nil, int64, string or []any.
	do(ctx context.Context, args ...string) (any, error)
	close() error
}

// tracedFacts wraps a store with a client span per command, named after the command (redis.GET).
type tracedFacts struct {
	s      factStore
	tracer *trace.Tracer
	system string // "redis", or "memory" for the in-process store
}

func (t *tracedFacts) do(ctx context.Context, args ...string) (any, error) {
	_, span := t.tracer.Start(ctx, "redis."+args[0], trace.WithKind(trace.KindClient), trace.WithType("redis"),
		trace.WithResource(args[0]),
		trace.WithAttrs(trace.String("db.system", "redis"), trace.String("db.statement", statement(args)),
			trace.String("db.redis.store", t.system)))
	v, err := t.s.do(ctx, args...)
	if err != nil {
		span.RecordError(err)
	}
	span.End()
	return v, err
}

func (t *tracedFacts) close() error { return t.s.close() }

// statement is the command with its key, and the values hidden.
func statement(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	if args[0] == "MGET" {
		return strings.Join(args, " ")
	}
	s := args[0] + " " + args[1]
	for range args[2:] {
		s += " ?"
	}
	return s
}

// respClient speaks the Redis protocol over a small pool of connections.
type respClient struct {
	addr string
	mu   sync.Mutex
	idle []*respConn
}

type respConn struct {
	c net.Conn
	r *bufio.Reader
}

func (c *respClient) get(ctx context.Context) (*respConn, error) {
	c.mu.Lock()
	if n := len(c.idle); n > 0 {
		rc := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return rc, nil
	}
	c.mu.Unlock()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	return &respConn{c: nc, r: bufio.NewReader(nc)}, nil
}

func (c *respClient) put(rc *respConn) {
	c.mu.Lock()
	if len(c.idle) < 8 {
		c.idle = append(c.idle, rc)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	rc.c.Close()
}

func (c *respClient) do(ctx context.Context, args ...string) (any, error) {
	rc, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		rc.c.SetDeadline(dl)
	} else {
		rc.c.SetDeadline(time.Now().Add(5 * time.Second))
	}
	var b []byte
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := rc.c.Write(b); err != nil {
		rc.c.Close()
		return nil, err
	}
	v, err := readReply(rc.r)
	var re redisError
	if err != nil && !errors.As(err, &re) {
		rc.c.Close()
		return nil, err
	}
	c.put(rc)
	return v, err
}

type redisError string

func (e redisError) Error() string { return "redis: " + string(e) }

func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("redis: malformed reply %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, redisError(body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > 1<<24 {
			return nil, fmt.Errorf("redis: bad bulk length %q", body)
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > 1<<20 {
			return nil, fmt.Errorf("redis: bad array length %q", body)
		}
		if n < 0 {
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = readReply(r); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("redis: unknown reply type %q", line[0])
}

func (c *respClient) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rc := range c.idle {
		rc.c.Close()
	}
	c.idle = nil
	return nil
}

// memoryFacts is the in-process stand-in for Redis, for machines without redis-server.
type memoryFacts struct {
	mu sync.Mutex
	m  map[string]string
}

func (m *memoryFacts) do(_ context.Context, args ...string) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case args[0] == "PING":
		return "PONG", nil
	case args[0] == "GET" && len(args) == 2:
		if v, ok := m.m[args[1]]; ok {
			return v, nil
		}
		return nil, nil
	case args[0] == "SET" && len(args) == 3:
		m.m[args[1]] = args[2]
		return "OK", nil
	case args[0] == "INCRBY" && len(args) == 3:
		d, err := strconv.ParseInt(args[2], 10, 64)
		if err != nil {
			return nil, redisError("ERR value is not an integer or out of range")
		}
		v, _ := strconv.ParseInt(m.m[args[1]], 10, 64)
		v += d
		m.m[args[1]] = strconv.FormatInt(v, 10)
		return v, nil
	case args[0] == "MGET":
		out := make([]any, len(args)-1)
		for i, k := range args[1:] {
			if v, ok := m.m[k]; ok {
				out[i] = v
			}
		}
		return out, nil
	}
	return nil, redisError("ERR unknown command '" + args[0] + "'")
}

func (m *memoryFacts) close() error { return nil }

// redisServer is a redis-server the demo started for itself.
type redisServer struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{} // closed once the process has exited and its directory is removed
}

// startRedis starts redis-server on a free 127.0.0.1 port, without persistence, and waits until it answers.
func startRedis(ctx context.Context, bin string) (*redisServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "weft-demo-redis")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	rs := &redisServer{cmd: cmd, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), exited: make(chan struct{})}
	go func() { cmd.Wait(); os.RemoveAll(dir); close(rs.exited) }()
	c := &respClient{addr: rs.addr}
	defer c.close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.do(pctx, "PING")
		cancel()
		if err == nil {
			return rs, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			rs.stop()
			return nil, fmt.Errorf("redis-server on %s did not answer: %w", rs.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills the server and waits (a few seconds at most) until it has exited, so that nothing of the demo's
// answers on its port once the demo is closed.
func (r *redisServer) stop() {
	if r.cmd.Process != nil {
		r.cmd.Process.Kill()
	}
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
	}
}
