package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/devidp"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// ctlUnavailable is pipelinectl's exit status when it cannot reach a
// service (pipelinectl --help, Exit codes).
const ctlUnavailable = 7

// TestTransportTLS: the system with every gRPC link over mutual TLS and
// the dashboard over HTTPS. pipelinectl, given the CA and its client
// certificate, runs a campaign and an application through the services,
// and the dashboard, signed in to over HTTPS, shows reporting's answer
// fetched over mutual TLS. Without a client certificate, in plain text, or
// trusting another CA, pipelinectl is refused.
func TestTransportTLS(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	idp := devidp.StartConfig(t, devidp.Config{Clients: []devidp.Client{devidp.DashboardClient("https://" + addr + "/auth/callback")}})
	st := startTLS(t, "AUTH_OIDC_ISSUER="+idp.Issuer(), "AUTH_AUDIENCES=recruitment-pipeline,"+devidp.DashboardClientID)
	c := newCtl(t, st)
	admin := c.mint("--role", "admin", "--subject", "admin-1")
	spoc := c.mint("--role", "spoc", "--subject", "spoc-london-1", "--region", "london")

	var camp applicationsv1.CreateCampaignResponse
	c.json(admin, &camp, "campaigns", "create", "--region", "london", "--role", "probation-officer",
		"--title", "Probation officers", "--posts", "5", "--rolling",
		"--opens-on", time.Now().AddDate(0, 0, -30).Format(time.DateOnly))
	var app applicationsv1.SubmitApplicationResponse
	c.json(spoc, &app, "applications", "submit", "--campaign", camp.GetCampaign().GetId(),
		"--name", "Ada Lovelace", "--email", "ada@example.org")
	if app.GetApplication().GetId() == "" {
		t.Fatal("no application submitted over TLS")
	}

	t.Run("pipelinectl refused", func(t *testing.T) {
		for name, args := range map[string][]string{
			"without a client certificate":         {"--cert-file", "", "--key-file", ""},
			"in plain text":                        {"--insecure", "--ca-file", "", "--cert-file", "", "--key-file", ""},
			"trusting another CA":                  {"--ca-file", st.certs.StrangerServer.Cert},
			"with another CA's client certificate": {"--cert-file", st.certs.Stranger.Cert, "--key-file", st.certs.Stranger.Key},
		} {
			r := c.run(spoc, append([]string{"campaigns", "list", "--region", "london"}, args...)...)
			if r.code != ctlUnavailable || strings.Contains(r.stdout, camp.GetCampaign().GetId()) {
				t.Errorf("%s: exit %d, stdout %q, stderr %q; want refused (exit %d)", name, r.code, r.stdout, r.stderr, ctlUnavailable)
			}
		}
	})

	// The services' own connections, with the test's client certificate,
	// see the application reach reporting.
	reports := reportingv1.NewReportingServiceClient(st.conns["reporting"])
	reader := token(t, "dashboard-e2e", auth.RoleDashboard, "london")
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 30s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("reporting counts the application", func() bool {
		r, err := reports.GetFunnel(context.Background(), &reportingv1.GetFunnelRequest{Region: "london"}, reader)
		return err == nil && len(r.GetStages()) > 0 && r.GetStages()[0].GetReached() >= 1
	})

	d := startDashboardTLS(t, addr, st, idp)
	t.Run("dashboard over HTTPS", func(t *testing.T) {
		hc := &http.Client{Transport: d.transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		root, err := hc.Get(d.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		root.Body.Close()
		if root.StatusCode != http.StatusSeeOther {
			t.Fatalf("GET / without a session = %s, want 303 to sign in", root.Status)
		}
		if hsts := root.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
			t.Errorf("Strict-Transport-Security = %q, want a max-age", hsts)
		}
		resp, err := hc.Get(d.url + "/auth/signin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil || !strings.HasPrefix(loc.String(), idp.Issuer()) {
			t.Fatalf("sign-in redirects to %v (%v), want the provider", loc, err)
		}
		if !strings.Contains(loc.Query().Get("redirect_uri"), "https://"+addr+"/auth/callback") {
			t.Errorf("redirect_uri %q is not the HTTPS callback", loc.Query().Get("redirect_uri"))
		}
		for _, ck := range resp.Cookies() {
			if !ck.Secure || !ck.HttpOnly || !strings.HasPrefix(ck.Name, "__Host-") {
				t.Errorf("cookie %s: Secure %v, HttpOnly %v; want both and the __Host- prefix", ck.Name, ck.Secure, ck.HttpOnly)
			}
		}
		if len(resp.Cookies()) == 0 {
			t.Error("sign-in set no cookie for the flow")
		}

		// Signed in, a region page is reporting's answer over mutual TLS.
		session := d.signIn(t, idp, "dashboard-london")
		if code, body := d.get(t, session, "/regions/london"); code != http.StatusOK || !strings.Contains(body, "London") {
			t.Errorf("/regions/london over HTTPS = %d:\n%s", code, body)
		}

		// Plain HTTP to the HTTPS port is not served.
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Error("plain HTTP served by the HTTPS dashboard")
			}
		}
	})
}
