package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/config"
)

func init() { register(newTokenCmd) }

func newTokenCmd(*app) *cobra.Command {
	var (
		subject string
		role    string
		regions []string
		ttl     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a bearer token for local use",
		Long: `Mint a signed bearer token (JWT) for calling the services.

The key comes from AUTH_HS256_KEY or AUTH_ED25519_PRIVATE_KEY (base64 seed),
the same keys the services verify with; with neither set it uses the public
development key that the services accept when they have no key either.`,
		Example: `  pipelinectl token --role spoc --region london --subject spoc-london-1
  pipelinectl token --role admin --subject admin-1 --ttl 1h
  export PIPELINE_TOKEN=$(pipelinectl token --role vetting --region london --subject vetting-london-1)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys := auth.KeyConfig{HS256Key: os.Getenv("AUTH_HS256_KEY"), Ed25519PrivateKey: os.Getenv("AUTH_ED25519_PRIVATE_KEY")}
			if keys.HS256Key == "" && keys.Ed25519PrivateKey == "" {
				keys.HS256Key = config.DevHS256Key
			}
			signer, err := keys.Signer()
			if err != nil {
				return err
			}
			r := auth.Role(role)
			if !r.Valid() {
				return usagef("--role must be one of spoc, vetting, dashboard, admin; got %q", role)
			}
			if r != auth.RoleAdmin && len(regions) == 0 {
				return usagef("--region is required for roles other than admin (repeat it or comma-separate for several)")
			}
			tok, err := signer.Mint(auth.Claims{Subject: subject, Role: r, Regions: regions}, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&subject, "subject", "", "who the token identifies, e.g. spoc-london-1 (no names)")
	cmd.Flags().StringVar(&role, "role", "", "spoc, vetting, dashboard or admin")
	cmd.Flags().StringSliceVar(&regions, "region", nil, "region code(s) the caller may see, e.g. london,wales")
	cmd.Flags().DurationVar(&ttl, "ttl", 8*time.Hour, "how long the token is valid")
	_ = cmd.MarkFlagRequired("subject")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}
