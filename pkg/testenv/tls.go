package testenv

import (
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/devca"
)

// Certs are one test's certificate files, made fresh in its temporary
// folder (no key is ever committed).
type Certs struct {
	// CA is the trusted CA's certificate file: the client's trust file and
	// the server's TLS_CLIENT_CA_FILE.
	CA string
	// Server is a server certificate for localhost and 127.0.0.1, Client a
	// client certificate (subject "test-client"), both issued by CA.
	Server, Client devca.Files
	// Stranger is a client certificate issued by another CA, which a
	// server trusting CA must refuse.
	Stranger devca.Files
	// StrangerServer is a server certificate for localhost and 127.0.0.1
	// issued by that other CA, which a client trusting CA must refuse.
	StrangerServer devca.Files
}

// TLSCerts makes a CA, a server and a client certificate it issues, and a
// client and a server certificate issued by another CA.
func TLSCerts(t testing.TB) *Certs {
	t.Helper()
	dir := t.TempDir()
	ca, err := devca.New("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := devca.New("another CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caFiles, err := ca.WriteCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	c := &Certs{CA: caFiles.Cert}
	for _, f := range []struct {
		ca    *devca.CA
		usage devca.Usage
		name  string
		out   *devca.Files
	}{
		{ca, devca.Server, "server", &c.Server},
		{ca, devca.Client, "test-client", &c.Client},
		{other, devca.Client, "stranger", &c.Stranger},
		{other, devca.Server, "stranger-server", &c.StrangerServer},
	} {
		if *f.out, err = f.ca.WriteIssued(dir, f.usage, f.name, hosts, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	return c
}
