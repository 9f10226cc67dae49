package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/validate"
)

func TestCanAccessRegion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		c      auth.Claims
		region string
		want   bool
	}{
		{name: "spoc own region", c: auth.Claims{Role: auth.RoleSPOC, Regions: []string{"london", "wales"}}, region: "wales", want: true},
		{name: "spoc other region", c: auth.Claims{Role: auth.RoleSPOC, Regions: []string{"london"}}, region: "wales", want: false},
		{name: "dashboard no regions", c: auth.Claims{Role: auth.RoleDashboard}, region: "london", want: false},
		{name: "admin no regions", c: auth.Claims{Role: auth.RoleAdmin}, region: "london", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.c.CanAccessRegion(tt.region); got != tt.want {
				t.Errorf("CanAccessRegion(%q) = %v, want %v", tt.region, got, tt.want)
			}
		})
	}
}

func TestRequire(t *testing.T) {
	t.Parallel()
	spoc := auth.Claims{Subject: "alice", Role: auth.RoleSPOC, Regions: []string{"london"}}
	admin := auth.Claims{Subject: "root", Role: auth.RoleAdmin}
	tests := []struct {
		name    string
		ctx     context.Context
		region  string
		roles   []auth.Role
		wantErr error // nil means allowed
	}{
		{name: "no claims", ctx: context.Background(), region: "london", roles: []auth.Role{auth.RoleSPOC}, wantErr: auth.ErrUnauthenticated},
		{name: "role and region match", ctx: auth.WithClaims(context.Background(), spoc), region: "london", roles: []auth.Role{auth.RoleSPOC}},
		{name: "one of several roles", ctx: auth.WithClaims(context.Background(), spoc), region: "london", roles: []auth.Role{auth.RoleVetting, auth.RoleSPOC}},
		{name: "no region asked", ctx: auth.WithClaims(context.Background(), spoc), roles: []auth.Role{auth.RoleSPOC}},
		{name: "wrong role", ctx: auth.WithClaims(context.Background(), spoc), region: "london", roles: []auth.Role{auth.RoleVetting}, wantErr: auth.ErrPermissionDenied},
		{name: "other region", ctx: auth.WithClaims(context.Background(), spoc), region: "wales", roles: []auth.Role{auth.RoleSPOC}, wantErr: auth.ErrPermissionDenied},
		{name: "no roles listed admits only admin", ctx: auth.WithClaims(context.Background(), spoc), region: "london", wantErr: auth.ErrPermissionDenied},
		{name: "admin any role any region", ctx: auth.WithClaims(context.Background(), admin), region: "wales", roles: []auth.Role{auth.RoleVetting}},
		{name: "admin no roles listed", ctx: auth.WithClaims(context.Background(), admin), region: "north-east"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := auth.Require(tt.ctx, tt.region, tt.roles...)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Require error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Require: %v", err)
			}
			want, _ := auth.FromContext(tt.ctx)
			if got.Subject != want.Subject {
				t.Errorf("Require returned subject %q, want %q", got.Subject, want.Subject)
			}
		})
	}
}

func TestFromContextEmpty(t *testing.T) {
	t.Parallel()
	if c, ok := auth.FromContext(context.Background()); ok {
		t.Fatalf("FromContext on empty context = %+v, true", c)
	}
}

func TestVisibleRegions(t *testing.T) {
	t.Parallel()
	spoc := auth.Claims{Subject: "s", Role: auth.RoleSPOC, Regions: []string{"london", "wales"}}
	admin := auth.Claims{Subject: "a", Role: auth.RoleAdmin}
	tests := []struct {
		name      string
		c         auth.Claims
		requested string
		want      int
		wantErr   error
	}{
		{"spoc own region", spoc, "london", 1, nil},
		{"spoc all of own", spoc, "", 2, nil},
		{"spoc other region", spoc, "north-east", 0, auth.ErrPermissionDenied},
		{"unknown region", spoc, "atlantis", 0, nil},
		{"admin all", admin, "", 12, nil},
		{"admin one", admin, "north-east", 1, nil},
	}
	for _, tt := range tests {
		got, err := auth.VisibleRegions(tt.c, tt.requested)
		switch {
		case tt.name == "unknown region":
			var fe *validate.FieldError
			if !errors.As(err, &fe) || fe.Field != "region" {
				t.Errorf("%s: err = %v, want a FieldError on region", tt.name, err)
			}
		case tt.wantErr != nil:
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
			}
		case err != nil || len(got) != tt.want:
			t.Errorf("%s: got %v, %v; want %d regions", tt.name, got, err, tt.want)
		}
	}
}
