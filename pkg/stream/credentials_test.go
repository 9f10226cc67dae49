package stream_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/probation-recruitment/pipeline/pkg/stream"
)

// startServer runs an in-process nats-server with opts on a random
// loopback port until the test ends.
func startServer(t *testing.T, opts *server.Options) string {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", server.RANDOM_PORT, true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

// TestConnectOverTLS: with NATS_CA_FILE the connection is TLS and the
// server's certificate is verified against that CA: a server whose
// certificate another CA signed is refused.
func TestConnectOverTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, caKey, caFile := newCA(t, dir, "ca")
	_, _, otherCAFile := newCA(t, dir, "other-ca")
	certFile, keyFile := newServerCert(t, dir, ca, caKey)
	tlsConfig, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	url := startServer(t, &server.Options{TLSConfig: tlsConfig, TLS: true, Username: "vetting", Password: "p"})

	nc, _, err := stream.Connect(url, "test", stream.Credentials{User: "vetting", Password: "p", CAFile: caFile}, nil)
	if err != nil {
		t.Fatalf("Connect with the server's CA: %v", err)
	}
	if _, err := nc.TLSConnectionState(); err != nil {
		t.Errorf("connection is not TLS: %v", err)
	}
	nc.Close()
	if _, _, err := stream.Connect(url, "test", stream.Credentials{User: "vetting", Password: "p", CAFile: otherCAFile}, nil); err == nil {
		t.Error("Connect trusting another CA: want a certificate error")
	}
	if _, _, err := stream.Connect(url, "test", stream.Credentials{User: "vetting", Password: "wrong", CAFile: caFile}, nil); err == nil ||
		!strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Errorf("Connect with a wrong password = %v, want an authorization violation", err)
	}
}

// TestConnectWithNKey: NATS_NKEY_SEED_FILE signs the server's challenge; a
// seed the server does not know is refused.
func TestConnectWithNKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	public, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile := filepath.Join(dir, "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	url := startServer(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: public}}})
	nc, _, err := stream.Connect(url, "test", stream.Credentials{NKeySeedFile: seedFile}, nil)
	if err != nil {
		t.Fatalf("Connect with the user's seed: %v", err)
	}
	nc.Close()

	stranger, _ := nkeys.CreateUser()
	strangerSeed, _ := stranger.Seed()
	strangerFile := filepath.Join(dir, "stranger.nk")
	if err := os.WriteFile(strangerFile, strangerSeed, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := stream.Connect(url, "test", stream.Credentials{NKeySeedFile: strangerFile}, nil); err == nil {
		t.Error("Connect with an unknown seed: want a refusal")
	}
	if _, _, err := stream.Connect(url, "test", stream.Credentials{NKeySeedFile: seedFile, User: "u", Password: "p"}, nil); err == nil ||
		!strings.Contains(err.Error(), "set one of") {
		t.Errorf("Connect with two kinds of credentials = %v, want a refusal naming the variables", err)
	}
}

func newCA(t *testing.T, dir, name string) (*x509.Certificate, *ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+".pem")
	writePEM(t, file, "CERTIFICATE", der)
	return cert, key, file
}

func newServerCert(t *testing.T, dir string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "nats"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func writePEM(t *testing.T, file, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
