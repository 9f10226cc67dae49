package grpcapi

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/notifier/v1"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/notify"
)

func prefsToProto(p notify.Preferences) *pb.Preferences {
	out := &pb.Preferences{
		Subject: p.Subject, Email: p.Email, Mode: modeToProto(p.Mode), TimeZone: p.TimeZone, WebhookUrl: p.WebhookURL,
		WebhookSecretSet: p.WebhookSecret != "", Role: roleToProto(p.Role), Regions: p.Regions, UpdatedAt: timestamppb.New(p.UpdatedAt),
	}
	if p.Quiet != nil {
		out.QuietStart, out.QuietEnd = notify.FormatClock(p.Quiet.Start), notify.FormatClock(p.Quiet.End)
	}
	return out
}

func modeToProto(m notify.Mode) pb.DeliveryMode {
	switch m {
	case notify.ModeOff:
		return pb.DeliveryMode_DELIVERY_MODE_OFF
	case notify.ModeDigest:
		return pb.DeliveryMode_DELIVERY_MODE_DIGEST
	case notify.ModeImmediate:
		return pb.DeliveryMode_DELIVERY_MODE_IMMEDIATE
	}
	return pb.DeliveryMode_DELIVERY_MODE_UNSPECIFIED
}

func modeFromProto(m pb.DeliveryMode) (notify.Mode, error) {
	switch m {
	case pb.DeliveryMode_DELIVERY_MODE_OFF:
		return notify.ModeOff, nil
	case pb.DeliveryMode_DELIVERY_MODE_DIGEST:
		return notify.ModeDigest, nil
	case pb.DeliveryMode_DELIVERY_MODE_IMMEDIATE, pb.DeliveryMode_DELIVERY_MODE_UNSPECIFIED:
		return notify.ModeImmediate, nil
	}
	return "", validate.Field("mode", "must be OFF, DIGEST or IMMEDIATE")
}

var roles = map[auth.Role]commonv1.CallerRole{
	auth.RoleSPOC:      commonv1.CallerRole_CALLER_ROLE_SPOC,
	auth.RoleVetting:   commonv1.CallerRole_CALLER_ROLE_VETTING,
	auth.RoleDashboard: commonv1.CallerRole_CALLER_ROLE_DASHBOARD,
	auth.RoleAdmin:     commonv1.CallerRole_CALLER_ROLE_ADMIN,
}

func roleToProto(r auth.Role) commonv1.CallerRole { return roles[r] }

// roleFromProto is "" for a role no token carries, which the rules refuse.
func roleFromProto(r commonv1.CallerRole) auth.Role {
	for role, c := range roles {
		if c == r {
			return role
		}
	}
	return ""
}

func mailboxRoleFromProto(r pb.MailboxRole) notify.MailboxRole {
	switch r {
	case pb.MailboxRole_MAILBOX_ROLE_SPOC:
		return notify.MailboxSPOC
	case pb.MailboxRole_MAILBOX_ROLE_VETTING:
		return notify.MailboxVetting
	}
	return ""
}

func mailboxToProto(m notify.Mailbox) *pb.RoleMailbox {
	role := pb.MailboxRole_MAILBOX_ROLE_SPOC
	if m.Role == notify.MailboxVetting {
		role = pb.MailboxRole_MAILBOX_ROLE_VETTING
	}
	return &pb.RoleMailbox{Region: m.Region, Role: role, Email: m.Email, UpdatedAt: timestamppb.New(m.UpdatedAt)}
}

func channelToProto(c notify.Channel) pb.Channel {
	if c == notify.ChannelWebhook {
		return pb.Channel_CHANNEL_WEBHOOK
	}
	return pb.Channel_CHANNEL_EMAIL
}
