package nats_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/instrument/messaging"
	weftnats "github.com/weftrace/weft/trace/instrument/nats"
)

// startNATS starts nats-server on 127.0.0.1 and a free port; without the binary the test fails under CI=true and
// is skipped otherwise.
func startNATS(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nats-server is not installed")
		}
		t.Skip("nats-server is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		nc, err := nats.Connect(url)
		if err == nil {
			nc.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server on %s: %v", url, err)
		}
	}
}

func event(s *trace.SpanData, name string) *trace.Event {
	for i := range s.Events {
		if s.Events[i].Name == name {
			return &s.Events[i]
		}
	}
	return nil
}

func id(e *trace.Event) trace.EventID { return trace.EventID{Unit: e.Unit, Seq: e.Seq} }

func TestNATS(t *testing.T) {
	url := startNATS(t)
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	defer p.Shutdown(context.Background())
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	tc := weftnats.New(nc, messaging.Options{Tracer: p.Tracer("test")})

	var wg sync.WaitGroup
	got := make(chan string, 8)
	handler := func(ctx context.Context, msg *nats.Msg) {
		defer wg.Done()
		if trace.SpanFromContext(ctx) != nil {
			got <- msg.Subject + ":" + string(msg.Data)
		}
	}
	// Publish/subscribe: both subscribers get the message. Point-to-point: one of the queue group does.
	for i := 0; i < 2; i++ {
		if _, err := tc.Subscribe("beers", handler); err != nil {
			t.Fatal(err)
		}
		if _, err := tc.QueueSubscribe("orders", "bar", handler); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tc.Serve("price", func(ctx context.Context, msg *nats.Msg) {
		tc.Respond(ctx, msg, []byte("4.50"))
	}); err != nil {
		t.Fatal(err)
	}
	nc.Flush()

	ctx, root := p.Tracer("test").Start(context.Background(), "root")
	wg.Add(3)
	if err := tc.Publish(ctx, "beers", []byte("IPA")); err != nil {
		t.Fatal(err)
	}
	if err := tc.Publish(ctx, "orders", []byte("Stout")); err != nil {
		t.Fatal(err)
	}
	reply, err := tc.Request(ctx, "price", []byte("IPA"), 5*time.Second)
	if err != nil || string(reply.Data) != "4.50" {
		t.Fatalf("Request: %v, %v", reply, err)
	}
	wg.Wait()
	root.End()
	close(got)
	var msgs []string
	for m := range got {
		msgs = append(msgs, m)
	}
	if len(msgs) != 3 {
		t.Errorf("handled %v, want beers twice and orders once", msgs)
	}
	// A request to nobody returns nats.go's error unchanged.
	if _, err := tc.Request(ctx, "nobody", nil, 200*time.Millisecond); err != nats.ErrNoResponders && err != nats.ErrTimeout {
		t.Errorf("request to nobody: %v", err)
	}
	p.Flush(context.Background())

	spans := rec.Spans()
	byName := map[string][]*trace.SpanData{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
	}
	if len(byName["process beers"]) != 2 || len(byName["process orders"]) != 1 || len(byName["serve price"]) != 1 {
		t.Fatalf("spans: %v", byName)
	}
	for _, dest := range []string{"beers", "orders"} {
		pub := byName["publish "+dest][0]
		send := event(pub, trace.EventSend)
		for _, c := range byName["process "+dest] {
			recv := event(c, trace.EventReceive)
			if c.ParentID != pub.SpanID || send == nil || recv == nil || recv.Cause.EventID != id(send) {
				t.Errorf("%s: consumer parent %v (want %v), receive %+v, send %+v", dest, c.ParentID, pub.SpanID, recv, send)
			}
		}
	}
	var req *trace.SpanData
	for _, s := range byName["request price"] {
		req = s
	}
	srv := byName["serve price"][0]
	if recv, rep := event(req, trace.EventReceive), event(srv, trace.EventSend); recv == nil || rep == nil || recv.Cause.EventID != id(rep) {
		t.Errorf("request's receive %+v does not name the reply %+v", recv, rep)
	}
}
