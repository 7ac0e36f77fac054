package grpc_test

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/weftrace/weft/trace"
	weftgrpc "github.com/weftrace/weft/trace/instrument/grpc"
)

func TestHandlers(t *testing.T) {
	crec, srec := &trace.Recorder{}, &trace.Recorder{}
	cp := trace.NewProvider(trace.Config{Exporter: crec, Resource: &trace.Resource{Service: "client"}})
	sp := trace.NewProvider(trace.Config{Exporter: srec, Resource: &trace.Resource{Service: "server"}})
	defer cp.Shutdown(context.Background())
	defer sp.Shutdown(context.Background())

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.StatsHandler(weftgrpc.ServerHandler(weftgrpc.Options{Tracer: sp.Tracer("test")})))
	hs := health.NewServer()
	hs.SetServingStatus("beers", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	defer srv.Stop()

	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(weftgrpc.ClientHandler(weftgrpc.Options{Tracer: cp.Tracer("test")})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	ctx, root := cp.Tracer("test").Start(context.Background(), "root")
	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "beers"})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check: %v, %v", resp, err)
	}
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "donuts"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("Check donuts: %v, want NotFound", err)
	}
	root.End()
	cp.Flush(context.Background())
	srv.GracefulStop()
	sp.Flush(context.Background())

	var clients []*trace.SpanData
	for _, s := range crec.Spans() {
		if s.Kind == trace.KindClient {
			clients = append(clients, s)
		}
	}
	servers := srec.Spans()
	if len(clients) != 2 || len(servers) != 2 {
		t.Fatalf("%d client and %d server spans, want 2 and 2", len(clients), len(servers))
	}
	for _, c := range clients {
		var s *trace.SpanData
		for _, x := range servers {
			if x.ParentID == c.SpanID {
				s = x
			}
		}
		if s == nil {
			t.Fatalf("no server span under client span %s", c.SpanID)
		}
		if c.Name != "grpc.health.v1.Health/Check" || s.Name != c.Name || s.Kind != trace.KindServer {
			t.Errorf("names %q / %q kind %v", c.Name, s.Name, s.Kind)
		}
		var send *trace.Event
		for i := range c.Events {
			if c.Events[i].Name == trace.EventSend {
				send = &c.Events[i]
			}
		}
		if send == nil || s.StartCause.EventID != (trace.EventID{Unit: send.Unit, Seq: send.Seq}) {
			t.Errorf("server cause %v, want the client's send %+v", s.StartCause, send)
		}
		code, _ := c.Attr(weftgrpc.AttrStatusCode)
		wantErr := code.AsInt64() == int64(codes.NotFound)
		if (c.StatusCode == trace.StatusError) != wantErr || (s.StatusCode == trace.StatusError) != wantErr {
			t.Errorf("status code %d: client %v server %v", code.AsInt64(), c.StatusCode, s.StatusCode)
		}
		if c.Counters.BytesOut == 0 || s.Counters.BytesIn == 0 {
			t.Errorf("bytes: client out %d, server in %d", c.Counters.BytesOut, s.Counters.BytesIn)
		}
	}
}
