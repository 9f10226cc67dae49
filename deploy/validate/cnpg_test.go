package validate

import (
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// CloudNativePG's kinds are not in k8s.io/api: these structs mirror the
// fields of postgresql.cnpg.io/v1 the manifests use (names and types as in
// the operator's API reference), so a strict decode refuses a misspelt or
// misplaced field as the operator's CRD validation would. A field the
// manifests start using must be added here.

type cnpgMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type cnpgSecretRef struct {
	Name string `json:"name"`
}

type cnpgSecretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type cnpgRole struct {
	Name            string         `json:"name"`
	Ensure          string         `json:"ensure,omitempty"`
	Login           bool           `json:"login,omitempty"`
	Inherit         *bool          `json:"inherit,omitempty"`
	ConnectionLimit int            `json:"connectionLimit,omitempty"`
	PasswordSecret  *cnpgSecretRef `json:"passwordSecret,omitempty"`
	Comment         string         `json:"comment,omitempty"`
	InRoles         []string       `json:"inRoles,omitempty"`
}

type cnpgCluster struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   cnpgMeta `json:"metadata"`
	Spec       struct {
		Instances             int    `json:"instances"`
		ImageName             string `json:"imageName,omitempty"`
		PrimaryUpdateStrategy string `json:"primaryUpdateStrategy,omitempty"`
		EnableSuperuserAccess *bool  `json:"enableSuperuserAccess,omitempty"`
		Bootstrap             *struct {
			InitDB *struct {
				Database string         `json:"database"`
				Owner    string         `json:"owner"`
				Secret   *cnpgSecretRef `json:"secret,omitempty"`
			} `json:"initdb,omitempty"`
		} `json:"bootstrap,omitempty"`
		PostgreSQL *struct {
			Parameters  map[string]string `json:"parameters,omitempty"`
			Synchronous *struct {
				Method string `json:"method"`
				Number int    `json:"number"`
			} `json:"synchronous,omitempty"`
		} `json:"postgresql,omitempty"`
		Storage *struct {
			Size string `json:"size"`
		} `json:"storage,omitempty"`
		WALStorage *struct {
			Size string `json:"size"`
		} `json:"walStorage,omitempty"`
		Resources *struct {
			Requests map[string]string `json:"requests,omitempty"`
			Limits   map[string]string `json:"limits,omitempty"`
		} `json:"resources,omitempty"`
		Affinity *struct {
			EnablePodAntiAffinity *bool  `json:"enablePodAntiAffinity,omitempty"`
			TopologyKey           string `json:"topologyKey,omitempty"`
		} `json:"affinity,omitempty"`
		Monitoring *struct {
			EnablePodMonitor       bool               `json:"enablePodMonitor,omitempty"`
			CustomQueriesConfigMap []cnpgSecretKeyRef `json:"customQueriesConfigMap,omitempty"`
		} `json:"monitoring,omitempty"`
		Backup *struct {
			RetentionPolicy   string `json:"retentionPolicy,omitempty"`
			BarmanObjectStore *struct {
				DestinationPath string `json:"destinationPath"`
				EndpointURL     string `json:"endpointURL,omitempty"`
				S3Credentials   *struct {
					AccessKeyID     cnpgSecretKeyRef `json:"accessKeyId"`
					SecretAccessKey cnpgSecretKeyRef `json:"secretAccessKey"`
				} `json:"s3Credentials,omitempty"`
				WAL *struct {
					Compression string `json:"compression,omitempty"`
					Encryption  string `json:"encryption,omitempty"`
				} `json:"wal,omitempty"`
				Data *struct {
					Compression string `json:"compression,omitempty"`
					Encryption  string `json:"encryption,omitempty"`
				} `json:"data,omitempty"`
			} `json:"barmanObjectStore,omitempty"`
		} `json:"backup,omitempty"`
		Managed struct {
			Roles []cnpgRole `json:"roles"`
		} `json:"managed"`
	} `json:"spec"`
}

type cnpgScheduledBackup struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   cnpgMeta `json:"metadata"`
	Spec       struct {
		Schedule             string        `json:"schedule"`
		BackupOwnerReference string        `json:"backupOwnerReference,omitempty"`
		Cluster              cnpgSecretRef `json:"cluster"`
	} `json:"spec"`
}

// decodeCNPG decodes one CloudNativePG object into its mirror, strictly.
func decodeCNPG(kind string, doc []byte) (any, error) {
	var obj any
	switch kind {
	case "Cluster":
		obj = &cnpgCluster{}
	case "ScheduledBackup":
		obj = &cnpgScheduledBackup{}
	default:
		return nil, fmt.Errorf("a CloudNativePG kind (%s) the tests do not mirror", kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("does not strict-decode as a CloudNativePG %s: %w", kind, err)
	}
	return obj, nil
}

// TestCNPGMirrorIsStrict: a misspelt field is refused, so the mirror
// catches what the operator's validation would.
func TestCNPGMirrorIsStrict(t *testing.T) {
	t.Parallel()
	_, err := decodeCNPG("Cluster", []byte("apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: x}\nspec: {instances: 3, instancess: 3}\n"))
	if err == nil || !strings.Contains(err.Error(), "instancess") {
		t.Errorf("a Cluster with a misspelt field: err = %v, want one naming it", err)
	}
	if _, err := decodeCNPG("Pooler", []byte("kind: Pooler\n")); err == nil {
		t.Error("a kind without a mirror decoded")
	}
}
