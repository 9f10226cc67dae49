package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	auditv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/audit/v1"
	equalityv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
	notifierv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/notifier/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	privacyv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/privacy/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	siftingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// services are the seven gRPC services with the addresses `make run` gives them.
var services = []struct{ name, addr string }{
	{"applications", "127.0.0.1:50051"},
	{"sifting", "127.0.0.1:50052"},
	{"offers", "127.0.0.1:50053"},
	{"vetting", "127.0.0.1:50054"},
	{"reporting", "127.0.0.1:50055"},
	{"notifier", "127.0.0.1:50056"},
	{"equality", "127.0.0.1:50057"},
}

// commands build the top-level commands. Each area's file registers its own
// in init, so adding a command (say `import`) is adding one file.
var commands []func(*app) *cobra.Command

func register(newCmd func(*app) *cobra.Command) { commands = append(commands, newCmd) }

// app is one run of pipelinectl: the global flags, the connections, and
// where output goes.
type app struct {
	stdout, stderr io.Writer

	addrs map[string]*string
	token string
	// The transport: TLS trusting caFile (empty: the system's roots),
	// with certFile and keyFile as the client certificate for mutual TLS;
	// or, with insecure, plain text to loopback addresses only.
	caFile, certFile, keyFile string
	insecure                  bool
	tls                       bool
	output                    string
	timeout                   time.Duration

	conns        []*grpc.ClientConn
	applications applicationsv1.ApplicationsServiceClient
	sifting      siftingv1.SiftingServiceClient
	offers       offersv1.OffersServiceClient
	vetting      vettingv1.VettingServiceClient
	reporting    reportingv1.ReportingServiceClient
	notifier     notifierv1.NotifierServiceClient
	equality     equalityv1.EqualityServiceClient
	// audits are the audit trails, by the name of the service serving one.
	audits map[string]auditv1.AuditServiceClient
	// privacy are the services that hold records about applications, for
	// export, in the order of services.
	privacy []privacyClient

	// configHome replaces os.UserConfigDir() as the place of the stored
	// sign-in (tests); session is that sign-in once read.
	configHome string
	session    session

	// change is the change this run sent, if any, for the retry note.
	change *change
	// started is set when a command's own code begins; an error before
	// that is cobra rejecting the command line.
	started bool
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{stdout: stdout, stderr: stderr, addrs: map[string]*string{}}
}

func (a *app) close() {
	for _, c := range a.conns {
		_ = c.Close()
	}
}

// envFor maps global flags to the environment variables that set them
// when the flag is not given.
func envFor(flag string) string {
	return "PIPELINE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

var envFlags = []string{"applications-addr", "sifting-addr", "offers-addr", "vetting-addr", "reporting-addr", "notifier-addr", "equality-addr", "token",
	"ca-file", "cert-file", "key-file", "insecure"}

const rootLong = `pipelinectl is the command-line client of the recruitment pipeline tracker:
campaigns and applications, the sift and interviews, conditional offers and
starts, vetting cases (with the blocked-case work list), the named owners of
each stage's records and your own work list (assign, unassign, batch-assign,
my, each with --stage sift|offer|vetting), the reports, how you are
notified, and the audit trail of personal data.

Commands that call a service send a bearer token: --token or PIPELINE_TOKEN
when given, else the sign-in of ` + "`pipelinectl login`" + ` (refreshed as it nears
expiry; ` + "`pipelinectl whoami`" + ` shows it, ` + "`pipelinectl logout`" + ` forgets it). For
development and automation, ` + "`pipelinectl token`" + ` mints one.

Conventions:
  ids          application and campaign ids are UUIDs, given as the argument
  dates        YYYY-MM-DD; times RFC 3339 (2026-12-01T10:00:00Z)
  regions      north-east, north-west, yorkshire-humber, greater-manchester,
               east-midlands, west-midlands, east-of-england, london,
               kent-surrey-sussex, south-central, south-west, wales
  enums        lower case with dashes: --role probation-officer,
               --reason missing-documents (each flag's help lists its values)
  changes      every change sends a request id (a new UUID unless
               --request-id is given) and prints it on stderr: repeat the
               command with the same --request-id and --version to retry it
               safely. A change to an existing record takes --version (the
               version you read); without it pipelinectl reads the current
               version first.
  output       --output table (default), json (the response as protojson,
               .proto field names, every field) or csv (a header and rows).
               Notes such as the next page token go to stderr with csv.

Environment (flags win):
  PIPELINE_APPLICATIONS_ADDR  PIPELINE_SIFTING_ADDR  PIPELINE_OFFERS_ADDR
  PIPELINE_VETTING_ADDR  PIPELINE_REPORTING_ADDR
  PIPELINE_NOTIFIER_ADDR  PIPELINE_EQUALITY_ADDR      service addresses
  PIPELINE_TOKEN                                      bearer token (instead of the sign-in)
  PIPELINE_CA_FILE                                    CA the services' certificates chain to (default: system roots)
  PIPELINE_CERT_FILE  PIPELINE_KEY_FILE               client certificate and key, for services requiring them
  PIPELINE_INSECURE                                   true: plain text, to loopback addresses only (make run)
  PIPELINE_OIDC_ISSUER                                identity provider of ` + "`login`" + ` (` + defaultIssuer + `)
  PIPELINE_OIDC_CLIENT_ID                             client id of ` + "`login`" + ` (` + defaultClientID + `)
  XDG_CONFIG_HOME                                     where ` + "`login`" + ` keeps the sign-in, in
                                                      pipelinectl/credentials.json (default ~/.config)
  AUTH_ED25519_PRIVATE_KEY                            signing key for ` + "`token`" + `

` + exitCodesSection

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "pipelinectl",
		Short:         "Command-line client of the recruitment pipeline tracker",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setUp(cmd)
		},
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{msg: err.Error()} })

	fs := root.PersistentFlags()
	for _, s := range services {
		addr := new(string)
		a.addrs[s.name] = addr
		flag := s.name + "-addr"
		fs.StringVar(addr, flag, s.addr, fmt.Sprintf("%s service gRPC address (env %s)", s.name, envFor(flag)))
	}
	fs.StringVar(&a.token, "token", "", "bearer token (env PIPELINE_TOKEN); without it, the sign-in of pipelinectl login")
	fs.StringVar(&a.caFile, "ca-file", "", "PEM file of the CA the services' certificates chain to; default the system's roots (env PIPELINE_CA_FILE)")
	fs.StringVar(&a.certFile, "cert-file", "", "PEM client certificate, for services that require one (env PIPELINE_CERT_FILE)")
	fs.StringVar(&a.keyFile, "key-file", "", "PEM private key of --cert-file (env PIPELINE_KEY_FILE)")
	fs.BoolVar(&a.insecure, "insecure", false, "plain text instead of TLS, only to loopback addresses, as make run serves (env PIPELINE_INSECURE)")
	// --tls chose TLS when plain text was the default; TLS is the default now.
	fs.BoolVar(&a.tls, "tls", true, "")
	_ = fs.MarkDeprecated("tls", "TLS is the default; --insecure asks for plain text to loopback")
	fs.StringVarP(&a.output, "output", "o", outputTable, "output format: table, json or csv")
	fs.DurationVar(&a.timeout, "timeout", 30*time.Second, "how long to wait for each call")

	for _, newCmd := range commands {
		root.AddCommand(newCmd(a))
	}
	markStarted(root, a)
	return root
}

// markStarted wraps every command's RunE so that errors can be told apart
// from cobra's own command-line errors (exit 2).
func markStarted(cmd *cobra.Command, a *app) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			a.started = true
			return run(cmd, args)
		}
	}
	for _, c := range cmd.Commands() {
		markStarted(c, a)
	}
}

// setUp applies the environment to global flags not given, checks them,
// and creates the service clients (no connection is made until a call).
func (a *app) setUp(cmd *cobra.Command) error {
	fs := cmd.Flags()
	for _, name := range envFlags {
		v, ok := os.LookupEnv(envFor(name))
		if !ok || fs.Changed(name) {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return usagef("%s=%q: %v", envFor(name), v, err)
		}
	}
	if !slices.Contains(outputFormats, a.output) {
		return usagef("--output must be one of %s, not %q", strings.Join(outputFormats, ", "), a.output)
	}
	if a.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	creds, err := a.transport()
	if err != nil {
		return err
	}
	conns := map[string]*grpc.ClientConn{}
	for _, s := range services {
		c, err := a.dial(s.name, *a.addrs[s.name], creds)
		if err != nil {
			return usagef("--%s-addr %q: %v", s.name, *a.addrs[s.name], err)
		}
		conns[s.name] = c
		a.conns = append(a.conns, c)
	}
	a.applications = applicationsv1.NewApplicationsServiceClient(conns["applications"])
	a.sifting = siftingv1.NewSiftingServiceClient(conns["sifting"])
	a.offers = offersv1.NewOffersServiceClient(conns["offers"])
	a.vetting = vettingv1.NewVettingServiceClient(conns["vetting"])
	a.reporting = reportingv1.NewReportingServiceClient(conns["reporting"])
	a.notifier = notifierv1.NewNotifierServiceClient(conns["notifier"])
	a.equality = equalityv1.NewEqualityServiceClient(conns["equality"])
	a.audits = map[string]auditv1.AuditServiceClient{}
	for _, name := range auditedServices {
		a.audits[name] = auditv1.NewAuditServiceClient(conns[name])
	}
	for _, name := range privacyServices {
		a.privacy = append(a.privacy, privacyClient{name, privacyv1.NewPrivacyServiceClient(conns[name])})
	}
	return nil
}

// group is a command that only holds subcommands.
func group(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long,
		// Without RunE cobra would print help for `sift bogus` and exit 0.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}

// required marks flags that must be given; cobra reports them together.
func required(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		if err := cmd.MarkFlagRequired(n); err != nil {
			panic(err) // a typo in a flag name, caught by the tests
		}
	}
}
