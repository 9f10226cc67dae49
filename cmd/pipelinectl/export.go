package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	privacyv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/privacy/v1"
)

func init() { register(newExportCmd) }

// privacyServices hold records about applications and serve
// recruitment.privacy.v1 (reporting holds none: only pseudonymous counts;
// equality holds the monitoring answers).
var privacyServices = []string{"applications", "sifting", "offers", "vetting", "equality"}

type privacyClient struct {
	service string
	client  privacyv1.PrivacyServiceClient
}

// exportDocument is what `export` writes: each service's answer as
// protojson, records with their "@type".
type exportDocument struct {
	ApplicationID string            `json:"application_id"`
	ExportedAt    string            `json:"exported_at"`
	Services      []json.RawMessage `json:"services"`
}

// exportJSON marshals each service's answer; records are the services' own
// messages (recruitment.vetting.v1.VettingCase, …), resolved by the
// generated packages this binary links.
var exportJSON = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

func newExportCmd(a *app) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "export APPLICATION_ID",
		Short: "Everything held about one candidate, as one JSON document (admin)",
		Long: `Export everything the pipeline holds about one application, for a subject
access request: the application and candidate (applications), the sift case
(sifting), the offer (offers) and the vetting case with its note (vetting),
each with its history. Every service must answer; a service that does not
fails the export rather than leave a part out. The document is JSON whatever
--output says:

  {"application_id": "...", "exported_at": "2026-12-03T12:00:00Z",
   "services": [{"service": "applications", "records": [{"@type":
     "type.googleapis.com/recruitment.applications.v1.Application", ...}]},
     {"service": "sifting", "records": [...]}, ...]}

A service holding nothing about the application answers with no records.
The file holds personal data: --file writes a new file readable by its owner
only, and refuses one that exists.`,
		Example: `  pipelinectl export 0192f3a4-5b6c-7d8e-9f00-112233445566 --file sar-0192f3a4.json`,
		Args:    oneID("application id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc := exportDocument{ApplicationID: args[0], ExportedAt: time.Now().UTC().Format(time.RFC3339)}
			for _, p := range a.privacy {
				resp, err := p.client.ExportCandidate(cmd.Context(), &privacyv1.ExportCandidateRequest{ApplicationId: args[0]})
				if err != nil {
					return err
				}
				b, err := exportJSON.Marshal(resp)
				if err != nil {
					return fmt.Errorf("encode %s's export: %w", p.service, err)
				}
				doc.Services = append(doc.Services, b)
			}
			out, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				return fmt.Errorf("encode the export: %w", err)
			}
			out = append(out, '\n')
			if file == "" {
				_, err = a.stdout.Write(out)
				return err
			}
			// A new file only: an existing one may be readable by others.
			f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("write the export: %w", err)
			}
			if _, err := f.Write(out); err != nil {
				f.Close()
				return fmt.Errorf("write the export: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("write the export: %w", err)
			}
			fmt.Fprintf(a.stderr, "wrote %s\n", file)
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "write the document to this new file (mode 0600) instead of stdout")
	return cmd
}
