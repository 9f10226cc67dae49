// Package contacts asks the applications service who a candidate is, at
// the moment a message is written, with the notifier's own bearer token
// (role notifier). The name goes into that message and nowhere else: it
// is neither stored nor logged.
package contacts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
)

// Client reads candidates' names; it implements notify.Contacts.
type Client struct {
	api     applicationsv1.ApplicationsServiceClient
	conn    *grpc.ClientConn
	timeout time.Duration
	token   *TokenFile
}

// New connects to applications at addr over creds, sending the token read
// from tokens; plain text (creds = grpcauth.PlaintextLoopback()) sends it
// only to a loopback address.
func New(addr string, creds credentials.TransportCredentials, tokens *TokenFile, timeout time.Duration) (*Client, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds), grpc.WithPerRPCCredentials(tokenCredentials{tokens}))
	if err != nil {
		return nil, fmt.Errorf("applications: %w", err)
	}
	return &Client{api: applicationsv1.NewApplicationsServiceClient(conn), conn: conn, timeout: timeout, token: tokens}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// ErrErased is a candidate whose personal data was erased: there is no
// name to give.
var ErrErased = errors.New("candidate erased")

// CandidateName implements notify.Contacts. Its errors carry a status,
// never the answer.
func (c *Client) CandidateName(ctx context.Context, applicationID string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.api.GetCandidateContact(ctx, &applicationsv1.GetCandidateContactRequest{ApplicationId: applicationID})
	if err != nil {
		return "", fmt.Errorf("applications GetCandidateContact: %w", err)
	}
	if resp.GetErased() || resp.GetCandidate().GetName() == "" {
		return "", ErrErased
	}
	return resp.GetCandidate().GetName(), nil
}

// TokenFile is a bearer token kept in a file (a mounted secret, rotated
// by whoever mints it): read again whenever the file changes.
type TokenFile struct {
	path string

	mu      sync.Mutex
	modTime time.Time
	size    int64
	token   string
}

// NewTokenFile reads the token at path now, so a missing file fails at
// start-up.
func NewTokenFile(path string) (*TokenFile, error) {
	t := &TokenFile{path: path}
	if _, err := t.Token(); err != nil {
		return nil, err
	}
	return t, nil
}

// Token returns the file's token, read again if the file changed since.
func (t *TokenFile) Token() (string, error) {
	fi, err := os.Stat(t.path)
	if err != nil {
		return "", fmt.Errorf("APPLICATIONS_TOKEN_FILE: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && fi.ModTime().Equal(t.modTime) && fi.Size() == t.size {
		return t.token, nil
	}
	b, err := os.ReadFile(t.path)
	if err != nil {
		return "", fmt.Errorf("APPLICATIONS_TOKEN_FILE: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("APPLICATIONS_TOKEN_FILE: %s is empty", t.path)
	}
	t.token, t.modTime, t.size = token, fi.ModTime(), fi.Size()
	return token, nil
}

// tokenCredentials send the file's current token, on TLS or on a
// plain-text loopback connection only (grpcauth.CheckTransport).
type tokenCredentials struct{ file *TokenFile }

func (c tokenCredentials) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	token, err := c.file.Token()
	if err != nil {
		return nil, err
	}
	return grpcauth.LoopbackBearerToken(token).GetRequestMetadata(ctx, uri...)
}

func (tokenCredentials) RequireTransportSecurity() bool { return false }
