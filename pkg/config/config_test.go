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
	for _, tt := range []struct{ name, value, want string }{
		{"GRPC_DEFAULT_DEADLINE", "soon", `GRPC_DEFAULT_DEADLINE: must be a duration such as 500ms, 10s or 2m, got "soon"`},
		{"PROFILING", "maybe", `PROFILING: must be true or false, got "maybe"`},
		{"NATS_REPLICAS", "three", `NATS_REPLICAS: must be a whole number, got "three"`},
		{"LOG_LEVEL", "loud", `LOG_LEVEL: must be debug, info, warn or error, got "loud"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tt.name, tt.value)
			var c Common
			if err := Load(&c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v, want an error containing %s", err, tt.want)
			}
		})
	}
}
