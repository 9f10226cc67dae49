// Package devca is a certificate authority for a developer's machine and
// for tests: it makes a CA and issues server and client certificates for
// local names, so that TLS and mutual TLS can be tried and tested without
// committing a key. Its keys live in memory or in files the caller
// chooses (make certs writes them to .data/certs); never use them for
// real data.
package devca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA is a certificate authority.
type CA struct {
	cert *x509.Certificate
	key  crypto.Signer
	// CertPEM is the CA's certificate, for the trust files (TLS_CLIENT_CA_FILE,
	// --ca-file, REPORTING_CA_FILE).
	CertPEM []byte
	// KeyPEM is its private key (PKCS #8), for a CA kept in files.
	KeyPEM []byte
}

// Usage says which end of a connection a certificate is for.
type Usage int

const (
	// Server certificates authenticate a service or the dashboard.
	Server Usage = iota
	// Client certificates authenticate a caller under mutual TLS.
	Client
)

// New makes a CA named name, valid for validity from a minute ago (the
// minute absorbs clocks a little apart).
func New(name string, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"recruitment pipeline development"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	return fromDER(der, key)
}

// Load reads a CA that New made and WriteCA wrote.
func Load(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("load CA: %s or %s is not PEM", certFile, keyFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("load CA: %s: %w", keyFile, err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("load CA: %s: not a signing key", keyFile)
	}
	return fromDER(cb.Bytes, key)
}

func fromDER(der []byte, key crypto.Signer) (*CA, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal CA key: %w", err)
	}
	return &CA{cert: cert, key: key, CertPEM: encode("CERTIFICATE", der), KeyPEM: encode("PRIVATE KEY", keyDER)}, nil
}

// Issue makes a certificate for name signed by the CA, valid for validity
// (and no longer than the CA). A server certificate carries hosts as its
// DNS names and IP addresses; a client certificate names its holder in
// its common name. It returns the certificate and the private key, PEM.
func (ca *CA) Issue(usage Usage, name string, hosts []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("issue %s: %w", name, err)
	}
	now := time.Now()
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if usage == Client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue %s: %w", name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue %s: %w", name, err)
	}
	return encode("CERTIFICATE", der), encode("PRIVATE KEY", keyDER), nil
}

// Files are the paths of a certificate and its key written by WriteIssued.
type Files struct{ Cert, Key string }

// WriteIssued issues a certificate as Issue does and writes it to
// dir/name.crt and its key to dir/name.key (readable by the owner only).
func (ca *CA) WriteIssued(dir string, usage Usage, name string, hosts []string, validity time.Duration) (Files, error) {
	certPEM, keyPEM, err := ca.Issue(usage, name, hosts, validity)
	if err != nil {
		return Files{}, err
	}
	f := Files{Cert: filepath.Join(dir, name+".crt"), Key: filepath.Join(dir, name+".key")}
	return f, writePair(f, certPEM, keyPEM)
}

// WriteCA writes the CA's certificate to dir/ca.crt and its key to
// dir/ca.key.
func (ca *CA) WriteCA(dir string) (Files, error) {
	f := Files{Cert: filepath.Join(dir, "ca.crt"), Key: filepath.Join(dir, "ca.key")}
	return f, writePair(f, ca.CertPEM, ca.KeyPEM)
}

func writePair(f Files, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(filepath.Dir(f.Cert), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(f.Cert, certPEM, 0o644); err != nil {
		return err
	}
	return os.WriteFile(f.Key, keyPEM, 0o600)
}

func encode(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on the platforms Go supports.
		panic(err)
	}
	return n
}
