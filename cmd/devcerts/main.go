// Command devcerts makes the certificates for trying the pipeline with TLS
// on one machine (`make certs`, used by `make run TLS=1`): a local CA, a
// server certificate for localhost, 127.0.0.1 and ::1 that every service
// and the dashboard serve, and client certificates for the dashboard,
// pipelinectl and the notifier, for the services' mutual TLS. It keeps an existing CA (so
// what trusts it still does) and issues the others afresh.
//
// The files are for a developer's machine: the CA's key sits beside them,
// unprotected. Production certificates come from the organisation's own
// CA (docs/security.md, Transport).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/devca"
)

const (
	caValidity   = 2 * 365 * 24 * time.Hour
	leafValidity = 90 * 24 * time.Hour
)

func main() {
	out := flag.String("out", ".data/certs", "folder to write the certificates and keys to")
	hosts := flag.String("hosts", "localhost,127.0.0.1,::1", "comma-separated names and addresses of the server certificate")
	flag.Parse()
	if err := run(*out, strings.Split(*hosts, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "devcerts:", err)
		os.Exit(1)
	}
}

func run(dir string, hosts []string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caCert, caKey := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	ca, err := devca.Load(caCert, caKey)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if ca, err = devca.New("recruitment pipeline development CA", caValidity); err != nil {
			return err
		}
		if _, err := ca.WriteCA(dir); err != nil {
			return err
		}
		fmt.Printf("devcerts: made a CA in %s (trust it with --ca-file, REPORTING_CA_FILE, TLS_CLIENT_CA_FILE)\n", caCert)
	case err != nil:
		return fmt.Errorf("%w (remove %s and %s to make a new CA)", err, caCert, caKey)
	}
	for _, c := range []struct {
		usage devca.Usage
		name  string
	}{
		{devca.Server, "server"},
		{devca.Client, "dashboard"},
		{devca.Client, "pipelinectl"},
		{devca.Client, "notifier"},
	} {
		f, err := ca.WriteIssued(dir, c.usage, c.name, hosts, leafValidity)
		if err != nil {
			return err
		}
		fmt.Printf("devcerts: %s %s and %s\n", c.name, f.Cert, f.Key)
	}
	return nil
}
