package telemetry_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/fedscore/fedscore/internal/telemetry"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

func TestCheckAddr(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:9090", false, true},
		{"[::1]:9090", false, true},
		{"localhost:9090", false, true},
		{"127.0.0.2:0", false, true},
		{"0.0.0.0:9090", false, false},
		{":9090", false, false},
		{"192.0.2.7:9090", false, false},
		{"0.0.0.0:9090", true, true},
		{"9090", true, false},
	} {
		err := telemetry.CheckAddr(tc.addr, tc.remote)
		if (err == nil) != tc.ok {
			t.Errorf("CheckAddr(%q, %v) = %v, want ok %v", tc.addr, tc.remote, err, tc.ok)
		}
		if err != nil && tc.addr != "9090" && !errors.Is(err, telemetry.ErrNotLoopback) {
			t.Errorf("CheckAddr(%q): %v is not ErrNotLoopback", tc.addr, err)
		}
	}
}

// TestListener serves metrics and health on one plain-text port and
// reaches both as Prometheus (HTTP/1.1) and a gRPC health client
// (HTTP/2 in plain text) do.
func TestListener(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "fedscore_test_events_total", Help: "Events."})
	reg.MustRegister(c)
	c.Add(3)
	h := telemetry.NewHealth("fedscore.v1.Test", nil)
	l, err := telemetry.Listen(telemetry.ListenerConfig{Addr: "127.0.0.1:0", Registry: reg, Health: h})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- l.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	addr := l.Addr().String()

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "fedscore_test_events_total 3") {
		t.Errorf("/metrics: %d %s", code, body)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	check := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		r, err := hc.Check(cctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("Check(%q): %v", service, err)
		}
		return r.Status
	}
	serving, notServing := healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING
	for _, step := range []struct {
		set      error
		ready    healthpb.HealthCheckResponse_ServingStatus
		readyz   int
		contains string
	}{
		{nil, serving, 200, "SERVING"},
		{errors.New("2 of 3 members attached"), notServing, 503, "2 of 3 members attached"},
		{nil, serving, 200, "SERVING"},
	} {
		h.Set(step.set)
		for _, svc := range []string{"", telemetry.ReadinessService, "fedscore.v1.Test"} {
			if got := check(svc); got != step.ready {
				t.Errorf("after Set(%v): %q is %v, want %v", step.set, svc, got, step.ready)
			}
		}
		if got := check(telemetry.LivenessService); got != serving {
			t.Errorf("after Set(%v): liveness is %v", step.set, got)
		}
		if code, body := get("/readyz"); code != step.readyz || !strings.Contains(body, step.contains) {
			t.Errorf("after Set(%v): /readyz %d %q", step.set, code, body)
		}
	}
	if code, _ := get("/livez"); code != 200 {
		t.Errorf("/livez: %d", code)
	}
}

func TestListenRefusesRemote(t *testing.T) {
	_, err := telemetry.Listen(telemetry.ListenerConfig{Addr: "0.0.0.0:0", Registry: prometheus.NewRegistry(), Health: telemetry.NewHealth("x", nil)})
	if !errors.Is(err, telemetry.ErrNotLoopback) {
		t.Fatalf("Listen on 0.0.0.0 without AllowRemote: %v", err)
	}
}

func TestMessageKind(t *testing.T) {
	for _, tc := range []struct {
		msg  any
		want string
	}{
		{&pb.NodeMessage{Body: &pb.NodeMessage_Receipt{Receipt: &pb.InputReceipt{}}}, "receipt"},
		{&pb.NodeMessage{Body: &pb.NodeMessage_Chunk{Chunk: &pb.Chunk{BlobId: "ct/q-1/1/1/0"}}}, "chunk/ct"},
		{&pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_Chunk{Chunk: &pb.Chunk{BlobId: "a-peer-chooses-this/1"}}}, "chunk/other"},
		{&pb.StatusResponse{}, "StatusResponse"},
		{&pb.NodeMessage{}, "empty"},
		{"not a message", "other"},
	} {
		if got := telemetry.MessageKind(tc.msg); got != tc.want {
			t.Errorf("MessageKind(%T) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}
