package service_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/config"
	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	"github.com/probation-recruitment/pipeline/pkg/service"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	"github.com/probation-recruitment/pipeline/pkg/tlsconfig"
)

// startTLS starts a service serving gRPC with the test certificate, and
// requiring client certificates of the test CA when clientCA.
func startTLS(t *testing.T, certs *testenv.Certs, clientCA bool) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	_, schema := testenv.Schema(t)
	nats := testenv.NATSCredentials("sifting")
	cfg := config.Common{
		DatabaseURL: testenv.DatabaseURL(), DBSchema: schema, NATSURL: testenv.NATS(t),
		NATSStream: "RECRUITMENT", NATSSubjectPrefix: "recruitment", NATSReplicas: 1,
		NATSUser: nats.User, NATSPassword: nats.Password,
		GRPCAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second, AuthAllowDevKey: true,
		TLSCertFile: certs.Server.Cert, TLSKeyFile: certs.Server.Key,
	}
	if clientCA {
		cfg.TLSClientCAFile = certs.CA
	}
	rt, err := service.Start(ctx, "sifting", cfg)
	if err != nil {
		cancel()
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
	return rt.Server.Addr().String()
}

// check asks the service for its health over a connection with creds; a
// refused handshake is an error.
func check(t *testing.T, addr string, creds credentials.TransportCredentials) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

func clientTLS(t *testing.T, files tlsconfig.Client) credentials.TransportCredentials {
	t.Helper()
	cfg, err := files.Config()
	if err != nil {
		t.Fatal(err)
	}
	return credentials.NewTLS(cfg)
}

// TestStartServesTLS: with TLS_CERT_FILE and TLS_KEY_FILE a service
// serves a TLS client, bearer token included, and refuses plain text and
// a client that does not trust its CA.
func TestStartServesTLS(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t)
	addr := startTLS(t, certs, false)
	trusting := clientTLS(t, tlsconfig.Client{CAFile: certs.CA})
	testenv.Eventually(t, "the service to answer over TLS", func() (bool, string) {
		err := check(t, addr, trusting)
		return err == nil, fmt.Sprint(err)
	})

	signer, err := auth.KeyConfig{Ed25519PrivateKey: config.DevEd25519Seed}.Signer()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(trusting),
		grpc.WithPerRPCCredentials(grpcauth.BearerToken(testenv.Token(t, signer, auth.Claims{Subject: "alice", Role: auth.RoleAdmin}))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Errorf("an authenticated call over TLS: %v", err)
	}

	if err := check(t, addr, insecure.NewCredentials()); err == nil {
		t.Error("a plain-text client was served")
	}
	if err := check(t, addr, clientTLS(t, tlsconfig.Client{CAFile: certs.StrangerServer.Cert})); err == nil {
		t.Error("a client trusting another CA was served (it accepted a certificate it cannot verify)")
	}
	old := &tls.Config{MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true} //nolint:gosec // the attack under test
	if err := check(t, addr, credentials.NewTLS(old)); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
}

// TestStartRequiresClientCertificates: with TLS_CLIENT_CA_FILE a service
// serves a client whose certificate its CA issued, and refuses one with
// no certificate and one with a certificate from another CA.
func TestStartRequiresClientCertificates(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t)
	addr := startTLS(t, certs, true)
	testenv.Eventually(t, "the service to answer a client with a certificate", func() (bool, string) {
		err := check(t, addr, clientTLS(t, tlsconfig.Client{CAFile: certs.CA, CertFile: certs.Client.Cert, KeyFile: certs.Client.Key}))
		return err == nil, fmt.Sprint(err)
	})
	for name, creds := range map[string]credentials.TransportCredentials{
		"no client certificate":            clientTLS(t, tlsconfig.Client{CAFile: certs.CA}),
		"a certificate from another CA":    clientTLS(t, tlsconfig.Client{CAFile: certs.CA, CertFile: certs.Stranger.Cert, KeyFile: certs.Stranger.Key}),
		"a server certificate as a client": clientTLS(t, tlsconfig.Client{CAFile: certs.CA, CertFile: certs.Server.Cert, KeyFile: certs.Server.Key}),
		"plain text":                       insecure.NewCredentials(),
	} {
		if err := check(t, addr, creds); err == nil {
			t.Errorf("%s: served", name)
		}
	}
}
