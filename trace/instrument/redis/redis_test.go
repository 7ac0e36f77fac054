package redis_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/weftrace/weft/trace"
	weftredis "github.com/weftrace/weft/trace/instrument/redis"
)

// startRedis starts redis-server on 127.0.0.1 and a free port; without the binary the test fails under CI=true
// and is skipped otherwise.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHook(t *testing.T) {
	addr := startRedis(t)
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	defer p.Shutdown(context.Background())
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rdb.Close()
	rdb.AddHook(weftredis.NewHook(weftredis.Options{Tracer: p.Tracer("test")}))

	ctx, root := p.Tracer("test").Start(context.Background(), "root")
	if err := rdb.Set(ctx, "beer", "IPA", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.Get(ctx, "beer").Result(); err != nil || v != "IPA" {
		t.Fatalf("GET beer = %q, %v", v, err)
	}
	if _, err := rdb.Get(ctx, "nothing").Result(); !errors.Is(err, goredis.Nil) {
		t.Fatalf("GET nothing: %v, want redis.Nil", err)
	}
	if err := rdb.Incr(ctx, "beer").Err(); err == nil {
		t.Fatal("INCR of a string: no error")
	}
	cmds, err := rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, "a", "1", 0)
		p.IncrBy(ctx, "a", 41)
		p.Get(ctx, "a")
		return nil
	})
	if err != nil || cmds[2].(*goredis.StringCmd).Val() != "42" {
		t.Fatalf("pipeline: %v, %v", cmds, err)
	}
	if _, err := rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Incr(ctx, "a")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	root.End()
	// Outside a trace the hook records nothing.
	rdb.Get(context.Background(), "a")
	p.Flush(context.Background())

	type view struct {
		name, stmt string
		err        bool
	}
	var got []view
	// Export order is not guaranteed (per-CPU buffers); the commands ran in order on this goroutine's execution
	// unit, so the sequence number of their start event is their order.
	spans := rec.Spans()
	sort.Slice(spans, func(i, j int) bool { return spans[i].StartSeq < spans[j].StartSeq })
	for _, s := range spans {
		if s.Name == "root" || s.Name == "redis.dial" {
			continue
		}
		if s.TraceID != root.SpanContext().TraceID || s.Kind != trace.KindClient {
			t.Errorf("span %s: trace %v kind %v", s.Name, s.TraceID, s.Kind)
		}
		v, _ := s.Attr(weftredis.AttrStatement)
		got = append(got, view{s.Name, v.AsString(), s.StatusCode == trace.StatusError})
	}
	want := []view{
		{"redis.SET", "SET beer ?", false},
		{"redis.GET", "GET beer", false},
		{"redis.GET", "GET nothing", false},
		{"redis.INCR", "INCR beer", true},
		{"redis.pipeline", "SET a ?\nINCRBY a ?\nGET a", false},
		{"redis.pipeline", "MULTI\nINCR a\nEXEC", false},
	}
	if len(got) != len(want) {
		t.Fatalf("spans %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("span %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestNoServer checks that a command's error comes back unchanged when Redis is not there.
func TestNoServer(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	p := trace.NewProvider(trace.Config{})
	rdb := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	plain := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer plain.Close()
	rdb.AddHook(weftredis.NewHook(weftredis.Options{Tracer: p.Tracer("test")}))
	ctx, root := p.Tracer("test").Start(context.Background(), "root")
	defer root.End()
	err := rdb.Get(ctx, "a").Err()
	wantErr := plain.Get(ctx, "a").Err()
	if err == nil || wantErr == nil || err.Error() != wantErr.Error() {
		t.Errorf("error %v, want %v", err, wantErr)
	}
}
