package config

import (
	"strings"
	"testing"
	"time"
)

func TestLoadDefaultsAndOverrides(t *testing.T) {
	t.Setenv("NATS_URL", "nats://nats.internal:4222")
	t.Setenv("GRPC_DEFAULT_DEADLINE", "3s")
	t.Setenv("DATABASE_URL", "postgres://svc:s3cret@db:5432/recruitment")
	var c struct {
		Common
		Extra string `env:"EXTRA" envDefault:"x"`
	}
	if err := Load(&c); err != nil {
		t.Fatal(err)
	}
	c.Defaults("applications", "127.0.0.1:50051", "127.0.0.1:9051")
	if c.NATSURL != "nats://nats.internal:4222" || c.DefaultDeadline != 3*time.Second || c.Extra != "x" {
		t.Errorf("loaded %+v", c)
	}
	if c.DBSchema != "applications" || c.GRPCAddr != "127.0.0.1:50051" {
		t.Errorf("service defaults not applied: %+v", c.Common)
	}
	if !c.UsesDevKey() || c.Keys().HS256Key != DevHS256Key {
		t.Error("with no key configured the development key must be used")
	}
	if logged := c.LogValue().String(); strings.Contains(logged, "s3cret") || !strings.Contains(logged, "xxxxx") {
		t.Errorf("LogValue must mask the password: %s", logged)
	}
}

func TestLoadNamesBadVariable(t *testing.T) {
	t.Setenv("GRPC_DEFAULT_DEADLINE", "soon")
	var c Common
	err := Load(&c)
	if err == nil || !strings.Contains(err.Error(), "GRPC_DEFAULT_DEADLINE") {
		t.Errorf("Load = %v, want an error naming GRPC_DEFAULT_DEADLINE", err)
	}
}
