package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/probation-recruitment/pipeline/pkg/config"
	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	"github.com/probation-recruitment/pipeline/pkg/grpcclient"
	"github.com/probation-recruitment/pipeline/pkg/tlsconfig"
)

// transport is the connection's security: TLS with --ca-file (and the
// client certificate of --cert-file and --key-file), or with --insecure
// plain text that connects only to loopback addresses.
func (a *app) transport() (credentials.TransportCredentials, error) {
	if a.insecure {
		if a.caFile != "" || a.certFile != "" || a.keyFile != "" {
			return nil, usagef("--insecure: set it or --ca-file, --cert-file and --key-file, not both")
		}
		return grpcauth.PlaintextLoopback(), nil
	}
	cfg, err := tlsconfig.Client{CAFile: a.caFile, CertFile: a.certFile, KeyFile: a.keyFile,
		Vars: [3]string{"--ca-file", "--cert-file", "--key-file"}}.Config()
	if err != nil {
		return nil, usagef("%v", err)
	}
	return credentials.NewTLS(cfg), nil
}

// bearerCredentials send tok over TLS, or with --insecure over plain text
// to loopback; never in plain text to another machine.
func (a *app) bearerCredentials(tok string) credentials.PerRPCCredentials {
	if a.insecure {
		return grpcauth.LoopbackBearerToken(tok)
	}
	return grpcauth.BearerToken(tok)
}

// dial creates the client connection of one service. Nothing connects
// until the first call, so a command pays only for the services it uses.
func (a *app) dial(service, addr string, creds credentials.TransportCredentials) (*grpc.ClientConn, error) {
	if a.insecure && !config.Loopback(addr) {
		return nil, fmt.Errorf("--insecure sends plain text only to a loopback address (127.0.0.1, [::1], localhost); for another machine drop --insecure and give --ca-file")
	}
	return grpc.NewClient(addr,
		grpc.WithTransportCredentials(creds),
		grpcclient.RetryUnavailable(),
		grpcclient.Tracing(),
		grpc.WithChainUnaryInterceptor(a.unaryCall(service, addr)),
		grpc.WithChainStreamInterceptor(a.streamCall(service, addr)),
	)
}

// unaryCall bounds each call by --timeout, adds the bearer token (a stored
// sign-in is refreshed here, when a call needs it) and names the service in
// its error, so that a refused connection says which service and address.
func (a *app) unaryCall(service, addr string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, cancel := context.WithTimeout(ctx, a.timeout)
		defer cancel()
		opts, signedIn, err := a.withBearer(ctx, opts)
		if err != nil {
			return err
		}
		if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
			return &callError{service: service, addr: addr, signedIn: signedIn, err: err}
		}
		return nil
	}
}

// streamCall adds the bearer token and names the service in a stream's
// errors; a stream has no timeout (watch runs until interrupted), but
// getting its token does.
func (a *app) streamCall(service, addr string) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		tctx, cancel := context.WithTimeout(ctx, a.timeout)
		opts, signedIn, err := a.withBearer(tctx, opts)
		cancel()
		if err != nil {
			return nil, err
		}
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, &callError{service: service, addr: addr, signedIn: signedIn, err: err}
		}
		return &namedStream{ClientStream: s, service: service, addr: addr, signedIn: signedIn}, nil
	}
}

type namedStream struct {
	grpc.ClientStream
	service, addr, signedIn string
}

func (s *namedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil && !errors.Is(err, io.EOF) {
		return &callError{service: s.service, addr: s.addr, signedIn: s.signedIn, err: err}
	}
	return err
}
