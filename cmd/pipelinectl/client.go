package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
)

// dial creates the client connection of one service. Nothing connects
// until the first call, so a command pays only for the services it uses.
func (a *app) dial(service, addr string) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if a.tls {
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithChainUnaryInterceptor(a.unaryCall(service, addr)),
		grpc.WithChainStreamInterceptor(streamCall(service, addr)),
	}
	if a.token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(grpcauth.BearerToken(a.token)))
	}
	return grpc.NewClient(addr, opts...)
}

// unaryCall bounds each call by --timeout and names the service in its
// error, so that a refused connection says which service and address.
func (a *app) unaryCall(service, addr string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, cancel := context.WithTimeout(ctx, a.timeout)
		defer cancel()
		if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
			return &callError{service: service, addr: addr, err: err}
		}
		return nil
	}
}

// streamCall names the service in a stream's errors; a stream has no
// timeout (watch runs until interrupted).
func streamCall(service, addr string) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, &callError{service: service, addr: addr, err: err}
		}
		return &namedStream{ClientStream: s, service: service, addr: addr}, nil
	}
}

type namedStream struct {
	grpc.ClientStream
	service, addr string
}

func (s *namedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil && !errors.Is(err, io.EOF) {
		return &callError{service: s.service, addr: s.addr, err: err}
	}
	return err
}
