package testenv

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// WantRoleRefused calls every method of services on conn, except the
// methods named in allowed ("Service/Method", e.g.
// "ApplicationsService/GetCandidateContact"), and fails the test unless
// each answers PermissionDenied for the caller's role: what a role that
// may call none of them must meet. Requests are empty but for a "region"
// field set to london, so a refusal is the role's, not validation's.
func WantRoleRefused(t *testing.T, conn *grpc.ClientConn, services []protoreflect.ServiceDescriptor, allowed ...string) {
	t.Helper()
	for _, sd := range services {
		for i := range sd.Methods().Len() {
			m := sd.Methods().Get(i)
			name := string(sd.Name()) + "/" + string(m.Name())
			if slices.Contains(allowed, name) {
				continue
			}
			err := invokeEmpty(t.Context(), conn, m)
			if st := status.Convert(err); st.Code() != codes.PermissionDenied || !strings.Contains(st.Message(), "role") {
				t.Errorf("%s: %v, want PermissionDenied for the role", name, err)
			}
		}
	}
}

// invokeEmpty calls m with an empty request (its region london); a
// streaming call is opened and its first answer read.
func invokeEmpty(ctx context.Context, conn *grpc.ClientConn, m protoreflect.MethodDescriptor) error {
	req := dynamicpb.NewMessage(m.Input())
	if f := m.Input().Fields().ByName("region"); f != nil && f.Kind() == protoreflect.StringKind && !f.IsList() {
		req.Set(f, protoreflect.ValueOfString("london"))
	}
	resp := dynamicpb.NewMessage(m.Output())
	method := "/" + string(m.Parent().FullName()) + "/" + string(m.Name())
	if !m.IsStreamingClient() && !m.IsStreamingServer() {
		return conn.Invoke(ctx, method, req, resp)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: m.IsStreamingServer(), ClientStreams: m.IsStreamingClient()}, method)
	if err != nil {
		return err
	}
	// io.EOF: the server has already ended the stream; RecvMsg has its status.
	if err := s.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	return s.RecvMsg(resp)
}
