package grpcauth

import (
	"context"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// BearerToken returns per-call credentials sending token as
// "authorization: Bearer <token>" over TLS only: they require transport
// security, so gRPC refuses to send them on a plain-text connection, and
// the call fails Unauthenticated with the token unsent.
func BearerToken(token string) credentials.PerRPCCredentials {
	return bearerToken{token: token}
}

// LoopbackBearerToken returns per-call credentials sending token over TLS
// or over a PlaintextLoopback connection, whose handshake checked that the
// other end is on this machine. On any other connection (plain text to
// another machine) they withhold the token and the call fails
// Unauthenticated. They are for a client told explicitly to be insecure on
// a developer's machine (pipelinectl --insecure, tests).
func LoopbackBearerToken(token string) credentials.PerRPCCredentials {
	return bearerToken{token: token, loopback: true}
}

type bearerToken struct {
	token    string
	loopback bool
}

func (t bearerToken) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if err := CheckTransport(ctx, t.loopback); err != nil {
		return nil, err
	}
	return map[string]string{authorizationKey: "Bearer " + t.token}, nil
}

func (t bearerToken) RequireTransportSecurity() bool { return !t.loopback }

// CheckTransport returns nil when the call whose request information ctx
// carries (credentials.RequestInfoFromContext, as gRPC gives per-call
// credentials) goes over a connection with privacy and integrity (TLS),
// or, with loopbackPlaintext, over a PlaintextLoopback connection; an
// Unauthenticated error otherwise. Per-call credentials call it before
// handing over a bearer token, so that no configuration mistake sends one
// in plain text across a network.
func CheckTransport(ctx context.Context, loopbackPlaintext bool) error {
	ri, _ := credentials.RequestInfoFromContext(ctx)
	switch info := ri.AuthInfo.(type) {
	case loopbackInfo:
		if loopbackPlaintext {
			return nil
		}
	case interface {
		GetCommonAuthInfo() credentials.CommonAuthInfo
	}:
		if info.GetCommonAuthInfo().SecurityLevel >= credentials.PrivacyAndIntegrity {
			return nil
		}
	}
	return errPlaintext
}

var errPlaintext = status.Error(codes.Unauthenticated,
	"bearer token withheld: the connection is not TLS (plain text is allowed only to a loopback address, when asked for)")

// PlaintextLoopback returns transport credentials for plain text to this
// machine only: the handshake fails unless the connection's remote address
// is a loopback one (or a Unix socket), whatever name the target gave.
// LoopbackBearerToken sends its token over such a connection; BearerToken
// does not.
func PlaintextLoopback() credentials.TransportCredentials { return plaintextLoopback{} }

type plaintextLoopback struct{}

// loopbackInfo is the AuthInfo of a PlaintextLoopback connection: no
// security, but an end known to be on this machine.
type loopbackInfo struct{ credentials.CommonAuthInfo }

func (loopbackInfo) AuthType() string { return "insecure-loopback" }

// ErrNotLoopback is the handshake error of a PlaintextLoopback connection
// to another machine.
var ErrNotLoopback = errors.New("plain text is allowed only to a loopback address")

func (plaintextLoopback) ClientHandshake(_ context.Context, _ string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if !isLoopback(conn.RemoteAddr()) {
		return nil, nil, fmt.Errorf("%w; %s is not", ErrNotLoopback, conn.RemoteAddr())
	}
	return conn, loopbackInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
}

func (plaintextLoopback) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if !isLoopback(conn.RemoteAddr()) {
		return nil, nil, fmt.Errorf("%w; %s is not", ErrNotLoopback, conn.RemoteAddr())
	}
	return conn, loopbackInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
}

// Info says "insecure", so gRPC refuses at dial time to pair it with
// credentials that require transport security (BearerToken).
func (plaintextLoopback) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "insecure"}
}

func (p plaintextLoopback) Clone() credentials.TransportCredentials { return p }

func (plaintextLoopback) OverrideServerName(string) error { return nil }

func isLoopback(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}
