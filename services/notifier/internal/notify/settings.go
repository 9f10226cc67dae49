package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/validate"
)

// PreferencesInput is a request to set someone's preferences.
type PreferencesInput struct {
	// Subject is whose; empty for the caller's own.
	Subject                 string
	Email                   string
	Mode                    Mode
	QuietStart, QuietEnd    string
	TimeZone                string
	WebhookURL              string
	WebhookSecret           string
	Role                    auth.Role
	Regions                 []string
	roleGiven, regionsGiven bool
}

// GivenRoleAndRegions marks Role and Regions as set by the request (an
// admin's for someone else), not to be taken from the caller's token.
func (in *PreferencesInput) GivenRoleAndRegions(role bool, regions bool) {
	in.roleGiven, in.regionsGiven = role, regions
}

// whose is the subject a call is about: the caller's own, or — an admin
// only — another's.
func whose(caller auth.Claims, subject string) (string, error) {
	if subject == "" || subject == caller.Subject {
		return caller.Subject, nil
	}
	if caller.Role != auth.RoleAdmin {
		return "", fmt.Errorf("%w: only an admin may read or set another person's preferences", auth.ErrPermissionDenied)
	}
	// The check assignees pass: preferences are found by the assignee on
	// an event, so every subject a case can be assigned to may have them.
	if err := assign.Check("subject", subject); err != nil {
		return "", err
	}
	return subject, nil
}

// GetPreferences returns subject's preferences ("" for the caller's).
func (s *Service) GetPreferences(ctx context.Context, caller auth.Claims, subject string) (Preferences, error) {
	who, err := whose(caller, subject)
	if err != nil {
		return Preferences{}, err
	}
	p, err := s.store.Preferences(ctx, who)
	if errors.Is(err, ErrNotFound) {
		return Preferences{}, fmt.Errorf("%w: no preferences for %s", ErrNotFound, who)
	}
	return p, err
}

// SetPreferences replaces someone's preferences. A caller setting their
// own takes the role and regions of their token; an admin setting
// another's gives them (the role must be one a token can carry).
func (s *Service) SetPreferences(ctx context.Context, caller auth.Claims, in PreferencesInput) (Preferences, error) {
	who, err := whose(caller, in.Subject)
	if err != nil {
		return Preferences{}, err
	}
	p := Preferences{Subject: who, Email: in.Email, Mode: in.Mode, TimeZone: in.TimeZone, WebhookURL: in.WebhookURL,
		UpdatedAt: s.now(), UpdatedBy: caller.Subject}
	if err := CheckEmail("email", in.Email); err != nil {
		return Preferences{}, err
	}
	if p.Mode == "" {
		p.Mode = ModeImmediate
	}
	if p.Quiet, err = ParseQuietHours(in.QuietStart, in.QuietEnd); err != nil {
		return Preferences{}, err
	}
	if p.TimeZone == "" {
		p.TimeZone = DefaultTimeZone
	}
	if _, err := CheckTimeZone(p.TimeZone); err != nil {
		return Preferences{}, err
	}
	if who == caller.Subject && !in.roleGiven && !in.regionsGiven {
		p.Role, p.Regions = caller.Role, slices.Clone(caller.Regions)
	} else {
		if who == caller.Subject && caller.Role != auth.RoleAdmin {
			return Preferences{}, fmt.Errorf("%w: your role and regions come from your token; only an admin sets them", auth.ErrPermissionDenied)
		}
		if !in.Role.Valid() {
			return Preferences{}, validate.Field("role", "must be spoc, vetting, dashboard or admin")
		}
		for i, r := range in.Regions {
			if err := validate.Region(fmt.Sprintf("regions[%d]", i), r); err != nil {
				return Preferences{}, err
			}
		}
		p.Role, p.Regions = in.Role, slices.Clone(in.Regions)
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		old, err := s.store.Preferences(ctx, who)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if p.WebhookURL != "" {
			if err := CheckWebhook(p.WebhookURL); err != nil {
				return err
			}
			p.WebhookSecret = in.WebhookSecret
			if p.WebhookSecret == "" && old.WebhookURL != "" {
				p.WebhookSecret = old.WebhookSecret // kept: the secret is never read back
			}
			if p.WebhookSecret == "" {
				return validate.Field("webhook_secret", "is required with a webhook_url")
			}
			if err := CheckSecret(p.WebhookSecret); err != nil {
				return err
			}
		} else if in.WebhookSecret != "" {
			return validate.Field("webhook_secret", "is only for a webhook_url")
		}
		return s.store.SetPreferences(ctx, p)
	})
	return p, err
}

// SetMailbox sets (or, with no email, removes) a region's role mailbox.
// Admin only.
func (s *Service) SetMailbox(ctx context.Context, caller auth.Claims, region string, role MailboxRole, email string) (Mailbox, bool, error) {
	if _, err := auth.Require(ctx, ""); err != nil {
		return Mailbox{}, false, err
	}
	if err := validate.Region("region", region); err != nil {
		return Mailbox{}, false, err
	}
	if role != MailboxSPOC && role != MailboxVetting {
		return Mailbox{}, false, validate.Field("role", "must be SPOC or VETTING")
	}
	if email == "" {
		return Mailbox{}, false, s.store.DeleteMailbox(ctx, region, role)
	}
	if err := CheckEmail("email", email); err != nil {
		return Mailbox{}, false, err
	}
	m := Mailbox{Region: region, Role: role, Email: email, UpdatedAt: s.now(), UpdatedBy: caller.Subject}
	return m, true, s.store.SetMailbox(ctx, m)
}

// Mailboxes lists the role mailboxes, of region or all. Admin only.
func (s *Service) Mailboxes(ctx context.Context, region string) ([]Mailbox, error) {
	if _, err := auth.Require(ctx, ""); err != nil {
		return nil, err
	}
	if region != "" {
		if err := validate.Region("region", region); err != nil {
			return nil, err
		}
	}
	return s.store.Mailboxes(ctx, region)
}

// DeadLetters lists dead letters newest first, after the one with id
// after (0: from the newest). Admin only.
func (s *Service) DeadLetters(ctx context.Context, after int64, limit int) ([]Message, error) {
	if _, err := auth.Require(ctx, ""); err != nil {
		return nil, err
	}
	return s.store.DeadLetters(ctx, after, limit)
}

// RetryDeadLetter puts a dead letter back to be sent at once. Admin only.
func (s *Service) RetryDeadLetter(ctx context.Context, id int64) error {
	if _, err := auth.Require(ctx, ""); err != nil {
		return err
	}
	if id <= 0 {
		return validate.Field("id", "must be a dead letter's id")
	}
	return s.store.RetryDeadLetter(ctx, id, s.now())
}
