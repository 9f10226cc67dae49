// Package tlsconfig loads the TLS configuration of both ends of the
// pipeline's connections from PEM files: a server's certificate and, for
// mutual TLS, the CA its clients' certificates must chain to; a client's
// trusted CA and, for mutual TLS, its own certificate. Every service, the
// dashboard and pipelinectl load them here, so each link refuses the same
// old protocol versions and reports a bad file the same way.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// MinVersion is the oldest protocol either end accepts: TLS 1.2, whose
// cipher suites Go restricts to AEAD ones with forward secrecy; TLS 1.3 is
// preferred when both ends speak it.
const MinVersion = tls.VersionTLS12

// Server names the PEM files of a server's end. Each field's error names
// the variable it came from, given in the Vars fields.
type Server struct {
	// CertFile holds the certificate chain (leaf first), KeyFile its
	// private key.
	CertFile, KeyFile string
	// ClientCAFile, if set, holds the CA certificates a client's
	// certificate must chain to; a client without one is refused in the
	// handshake.
	ClientCAFile string
	// Vars names the variables of CertFile, KeyFile and ClientCAFile,
	// for errors.
	Vars [3]string
}

// Enabled reports whether a certificate is configured.
func (s Server) Enabled() bool { return s.CertFile != "" || s.KeyFile != "" }

// Config loads the files. It is an error to set one of CertFile and
// KeyFile without the other, or ClientCAFile without them.
func (s Server) Config() (*tls.Config, error) {
	certVar, keyVar, caVar := names(s.Vars, "CertFile", "KeyFile", "ClientCAFile")
	switch {
	case s.CertFile == "" && s.KeyFile == "" && s.ClientCAFile != "":
		return nil, fmt.Errorf("%s: client certificates can be verified only over TLS; set %s and %s too", caVar, certVar, keyVar)
	case s.CertFile == "" && s.KeyFile != "":
		return nil, fmt.Errorf("%s: required with %s", certVar, keyVar)
	case s.CertFile != "" && s.KeyFile == "":
		return nil, fmt.Errorf("%s: required with %s", keyVar, certVar)
	}
	cert, err := keyPair(s.CertFile, s.KeyFile, certVar, keyVar)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: MinVersion, Certificates: []tls.Certificate{cert}}
	if s.ClientCAFile != "" {
		pool, err := certPool(s.ClientCAFile, caVar)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Client names the PEM files of a client's end.
type Client struct {
	// CAFile holds the CA certificates the server's certificate must chain
	// to; empty trusts the system's roots.
	CAFile string
	// CertFile and KeyFile, if set, are the client's own certificate and
	// key, for a server that requires client certificates.
	CertFile, KeyFile string
	// ServerName overrides the name the server's certificate must carry;
	// empty uses the host of the address dialled.
	ServerName string
	// Vars names the variables (or flags) of CAFile, CertFile and KeyFile,
	// for errors.
	Vars [3]string
}

// Config loads the files.
func (c Client) Config() (*tls.Config, error) {
	caVar, certVar, keyVar := names(c.Vars, "CAFile", "CertFile", "KeyFile")
	cfg := &tls.Config{MinVersion: MinVersion, ServerName: c.ServerName}
	if c.CAFile != "" {
		pool, err := certPool(c.CAFile, caVar)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	switch {
	case c.CertFile == "" && c.KeyFile == "":
	case c.CertFile == "":
		return nil, fmt.Errorf("%s: required with %s", certVar, keyVar)
	case c.KeyFile == "":
		return nil, fmt.Errorf("%s: required with %s", keyVar, certVar)
	default:
		cert, err := keyPair(c.CertFile, c.KeyFile, certVar, keyVar)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func names(vars [3]string, defaults ...string) (string, string, string) {
	for i, d := range defaults {
		if vars[i] == "" {
			vars[i] = d
		}
	}
	return vars[0], vars[1], vars[2]
}

func keyPair(certFile, keyFile, certVar, keyVar string) (tls.Certificate, error) {
	// Read separately so that the error says which file is wrong.
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", certVar, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", keyVar, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s and %s: not a matching PEM certificate and private key: %w", certVar, keyVar, err)
	}
	return cert, nil
}

func certPool(file, variable string) (*x509.CertPool, error) {
	pemBytes, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", variable, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("%s: %s holds no PEM certificate", variable, file)
	}
	return pool, nil
}
