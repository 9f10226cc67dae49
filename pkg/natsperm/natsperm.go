// Package natsperm is who may do what on NATS: one user per service, which
// may publish only the events it owns (event.Owners) and use only its own
// durable consumer, and an administrator that provisions the stream
// (docs/security.md, "NATS permissions"). The development server
// (cmd/devnats) and the tests' server (testenv.NATS) run with these users;
// production gives the same permissions in its NATS configuration.
package natsperm

import (
	"fmt"
	"slices"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/stream"
)

// Admin is the user that creates and updates the stream, and reads and
// manages everything: for operators, make run's provisioning and tests.
// No service runs as it.
const Admin = "admin"

// Services are the users of the services that connect to NATS; each one's
// durable consumer bears its name.
var Services = []string{"applications", "sifting", "offers", "vetting", "reporting", "notifier", "equality"}

// rebuilder is the service whose projection rebuild replays the stream
// through consumers it names at random (jetstream ordered consumers).
const rebuilder = "reporting"

// Permissions is what service may do on the stream streamName, whose
// subjects start with prefix:
//   - publish the subjects of the events it owns ("<prefix>.*.<aggregate>.>"
//     for each aggregate event.Owners gives it), nothing else;
//   - read the stream's configuration (STREAM.INFO), never create, change,
//     purge or delete the stream, or delete a message;
//   - create, read, update and pull from its own durable consumer, and
//     acknowledge its messages; never another service's, so it can neither
//     take nor acknowledge the events another service has to act on;
//   - subscribe only to its own inbox prefix (stream.InboxPrefix), where
//     the server answers its API requests, acknowledges its publishes and
//     delivers what it pulls. A pull consumer's messages come there, so no
//     service subscribes to event subjects.
//
// Reporting's rebuild replays the stream through ordered consumers, named
// at random: reporting may create, pull from and delete any consumer of the
// stream except another service's durable.
func Permissions(service, streamName, prefix string) *server.Permissions {
	api := "$JS.API."
	var pub []string
	for _, aggregate := range event.OwnedBy(service) {
		pub = append(pub, prefix+".*."+aggregate+".>")
	}
	pub = append(pub, api+"STREAM.INFO."+streamName)
	var deny []string
	consumers := []string{service}
	if service == rebuilder {
		consumers = []string{"*"}
		for _, other := range Services {
			if other != service {
				for _, op := range []string{"CREATE", "INFO", "DELETE", "MSG.NEXT"} {
					deny = append(deny, api+"CONSUMER."+op+"."+streamName+"."+other, api+"CONSUMER."+op+"."+streamName+"."+other+".>")
				}
				deny = append(deny, "$JS.ACK."+streamName+"."+other+".>")
			}
		}
	}
	for _, c := range consumers {
		pub = append(pub,
			// CREATE also updates; ".>" is the form that names the filter subject.
			api+"CONSUMER.CREATE."+streamName+"."+c, api+"CONSUMER.CREATE."+streamName+"."+c+".>",
			api+"CONSUMER.INFO."+streamName+"."+c,
			api+"CONSUMER.MSG.NEXT."+streamName+"."+c,
			"$JS.ACK."+streamName+"."+c+".>",
		)
		if service == rebuilder {
			// The rebuild resets the live durable, and ordered consumers
			// are deleted when done.
			pub = append(pub, api+"CONSUMER.DELETE."+streamName+"."+c)
		}
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub, Deny: deny},
		Subscribe: &server.SubjectPermission{Allow: []string{stream.InboxPrefix(service) + ".>"}},
	}
}

// Users are the server's users for the stream streamName with subjects
// under prefix: Admin with every permission and each of Services with its
// Permissions. passwords holds each user's password; every one is required.
func Users(streamName, prefix string, passwords map[string]string) ([]*server.User, error) {
	users := []*server.User{}
	for _, name := range append([]string{Admin}, Services...) {
		password := passwords[name]
		if password == "" {
			return nil, fmt.Errorf("NATS user %s: no password", name)
		}
		u := &server.User{Username: name, Password: password}
		if name != Admin {
			u.Permissions = Permissions(name, streamName, prefix)
		}
		users = append(users, u)
	}
	return users, nil
}

// Names are the user names Users needs a password for.
func Names() []string {
	return slices.Concat([]string{Admin}, Services)
}
