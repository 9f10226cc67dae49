package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/config"
)

func init() {
	register(newTokenCmd)
	register(newKeygenCmd)
}

func newKeygenCmd(*app) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Make an Ed25519 key pair for signing tokens",
		Long: `Make a new Ed25519 key pair and print it as environment variables:
AUTH_ED25519_PRIVATE_KEY signs tokens (keep it in a secret store, with
whoever mints tokens); AUTH_ED25519_PUBLIC_KEY is what every service needs
to verify them, and may be public.`,
		Example: `  pipelinectl keygen > signing.env        # keep signing.env secret
  grep PUBLIC signing.env                  # what the services are given`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := auth.GenerateEd25519()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "AUTH_ED25519_PRIVATE_KEY=%s\nAUTH_ED25519_PUBLIC_KEY=%s\n", k.Ed25519PrivateKey, k.Ed25519PublicKey)
			return nil
		},
	}
}

func newTokenCmd(*app) *cobra.Command {
	var (
		subject string
		role    string
		regions []string
		ttl     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a bearer token (development and automation only; people use login)",
		Long: `Mint a signed bearer token (JWT) for calling the services.

This command is for development: a developer's machine, tests, and
automation that holds the pipeline's signing key. People sign in with
'pipelinectl login' against the organisation's identity provider instead.

The key is AUTH_ED25519_PRIVATE_KEY (base64 seed; 'pipelinectl keygen' makes
a pair), whose public half the services verify with. With it unset, the token
is signed with the public development key, which services accept only when
started with AUTH_ALLOW_DEV_KEY=true on loopback addresses (as make run does).
A token lives at most 12 hours.`,
		Example: `  pipelinectl token --role spoc --region london --subject spoc-london-1
  pipelinectl token --role admin --subject admin-1 --ttl 1h
  export PIPELINE_TOKEN=$(pipelinectl token --role vetting --region london --subject vetting-london-1)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys := auth.KeyConfig{Ed25519PrivateKey: os.Getenv("AUTH_ED25519_PRIVATE_KEY")}
			if keys.Ed25519PrivateKey == "" {
				keys.Ed25519PrivateKey = config.DevEd25519Seed
			}
			signer, err := keys.Signer()
			if err != nil {
				return err
			}
			r := auth.Role(role)
			if !r.Valid() {
				return usagef("--role must be one of spoc, vetting, dashboard, approver, admin, notifier, equality; got %q", role)
			}
			if r.Regional() && len(regions) == 0 {
				return usagef("--region is required for roles other than admin and notifier (repeat it or comma-separate for several)")
			}
			if r == auth.RoleNotifier && len(regions) > 0 {
				return usagef("--region: the notifier role is not regional; give no region")
			}
			tok, err := signer.Mint(auth.Claims{Subject: subject, Role: r, Regions: regions}, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&subject, "subject", "", "who the token identifies, e.g. spoc-london-1 (an id: no names or email addresses)")
	cmd.Flags().StringVar(&role, "role", "", "spoc, vetting, dashboard, approver (early starts), admin, notifier (the notifier service) or equality (equality reports)")
	cmd.Flags().StringSliceVar(&regions, "region", nil, "region code(s) the caller may see, e.g. london,wales")
	cmd.Flags().DurationVar(&ttl, "ttl", 8*time.Hour, "how long the token is valid")
	_ = cmd.MarkFlagRequired("subject")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}
