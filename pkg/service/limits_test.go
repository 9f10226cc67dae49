package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/audit"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/config"
	"github.com/probation-recruitment/pipeline/pkg/service"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

// limited is a test service: its unary call reports the deadline its
// handler got, its stream stays open until the caller leaves.
type limited struct {
	testpb.UnimplementedTestServiceServer
}

func (limited) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	d, ok := ctx.Deadline()
	if !ok {
		return nil, status.Error(codes.FailedPrecondition, "no deadline")
	}
	return &testpb.SimpleResponse{Username: time.Until(d).String()}, nil
}

func (limited) StreamingOutputCall(_ *testpb.StreamingOutputCallRequest, ss grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	if err := ss.Send(&testpb.StreamingOutputCallResponse{}); err != nil {
		return err
	}
	<-ss.Context().Done()
	return ss.Context().Err()
}

// TestStartAppliesLimits: the configured limits reach the running server:
// a caller's streams are capped per subject, and a unary call's hour-long
// deadline is cut to GRPC_MAX_DEADLINE.
func TestStartAppliesLimits(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, schema := testenv.Schema(t)
	creds := testenv.NATSCredentials("sifting")
	cfg := config.Common{
		DatabaseURL: testenv.DatabaseURL(), DBSchema: schema, NATSURL: testenv.NATS(t),
		NATSStream: "RECRUITMENT", NATSSubjectPrefix: "recruitment", NATSReplicas: 1,
		NATSUser: creds.User, NATSPassword: creds.Password,
		GRPCAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second, AuthAllowDevKey: true, GRPCInsecure: true,
		DefaultDeadline: time.Second, MaxDeadline: 2 * time.Second, MaxStreamsPerSubject: 1,
	}
	rt, err := service.Start(ctx, "sifting", cfg)
	if err != nil {
		t.Fatal(err)
	}
	testpb.RegisterTestServiceServer(rt.Server.GRPC(), limited{})
	rt.Audit.Declare(testServiceNotPersonal)
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	signer, err := auth.KeyConfig{Ed25519PrivateKey: config.DevEd25519Seed}.Signer()
	if err != nil {
		t.Fatal(err)
	}
	client := testpb.NewTestServiceClient(testenv.Dial(t, rt.Server.Addr().String(), testenv.Token(t, signer, auth.Claims{Subject: "alice", Role: auth.RoleAdmin})))

	var resp *testpb.SimpleResponse
	testenv.Eventually(t, "the server to answer", func() (bool, string) {
		callCtx, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		resp, err = client.UnaryCall(callCtx, &testpb.SimpleRequest{})
		return err == nil, fmt.Sprint(err)
	})
	if left, err := time.ParseDuration(resp.GetUsername()); err != nil || left > 2*time.Second {
		t.Errorf("handler deadline in %s (%v), want the hour cut to 2s", resp.GetUsername(), err)
	}

	first, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
	if err == nil {
		_, err = first.Recv()
	}
	if err != nil {
		t.Fatalf("first stream: %v", err)
	}
	second, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
	if err == nil {
		_, err = second.Recv()
	}
	testenv.WantStatus(t, err, codes.ResourceExhausted, "at most 1")
}

// testServiceNotPersonal declares every method of gRPC's test service: a
// service serves nothing its audit policy leaves undeclared.
var testServiceNotPersonal = audit.Policy{Service: "grpc.testing.TestService", Methods: map[string]audit.Rule{}}

func init() {
	for _, m := range []string{"EmptyCall", "UnaryCall", "CacheableUnaryCall", "StreamingOutputCall", "StreamingInputCall",
		"FullDuplexCall", "HalfDuplexCall", "UnimplementedCall"} {
		testServiceNotPersonal.Methods[m] = audit.NotPersonal("a test service")
	}
}
