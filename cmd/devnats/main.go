// Command devnats runs a current nats-server, in-process, with JetStream on,
// for `make run` on a machine whose own NATS is old or absent. Production
// runs a real NATS cluster (deploy/).
//
// It runs with the pipeline's NATS users and permissions (pkg/natsperm):
// each service may publish only the events it owns. Each user's password is
// a file under -users (created with a random password if missing, readable
// only by its owner), which make run hands to the service as
// NATS_PASSWORD_FILE. As the administrator it then provisions the stream,
// which the services may only read.
//
// With -cluster and -routes, several devnats form a JetStream cluster (the
// fault suite runs three on loopback, with -replicas 3); each provisions
// the stream once the cluster can hold it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/probation-recruitment/pipeline/pkg/natsperm"
	"github.com/probation-recruitment/pipeline/pkg/stream"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4250", "host:port to listen on")
	storeDir := flag.String("store", ".data/nats", "JetStream storage folder")
	usersDir := flag.String("users", ".data/nats-users", "folder of the users' password files, one per user (admin and each service), created if missing")
	streamName := flag.String("stream", "RECRUITMENT", "the stream to provision (NATS_STREAM)")
	prefix := flag.String("prefix", "recruitment", "its subject prefix (NATS_SUBJECT_PREFIX)")
	provisionURL := flag.String("provision", "", "provision the stream on the NATS server at this URL as the administrator, and exit (no server is started)")
	adminPasswordFile := flag.String("admin-password-file", "", "with -provision: the file holding the administrator's password")
	caFile := flag.String("ca-file", "", "with -provision: the CA (PEM) the server's certificate must chain to (TLS is then required)")
	replicas := flag.Int("replicas", 1, "copies of each event, served or with -provision (NATS_REPLICAS; 3 in a JetStream cluster)")
	name := flag.String("name", "devnats", "the server's name, unique in a cluster")
	clusterAddr := flag.String("cluster", "", "host:port to listen on for the other servers of a JetStream cluster (\"\": no cluster)")
	clusterName := flag.String("cluster-name", "recruitment", "with -cluster: the cluster's name, the same on every server")
	routes := flag.String("routes", "", "with -cluster: the other servers' cluster addresses, nats://host:port separated by commas")
	permissions := flag.Bool("permissions", false, "print each service user's permissions, as a production server's configuration needs them (JSON), and exit")
	duplicates := flag.Duration("duplicate-window", 0, "the stream's duplicate window, served or with -provision (NATS_DUPLICATE_WINDOW; 0: the default, 10m)")
	sync := flag.String("sync", "", `how often the store is fsynced: "always" or a duration; "" is the server's default (2m). See docs/operations.md`)
	flag.Parse()
	if *permissions {
		if err := printPermissions(stream.Config{Name: *streamName, SubjectPrefix: *prefix}); err != nil {
			fmt.Fprintln(os.Stderr, "devnats:", err)
			os.Exit(1)
		}
		return
	}
	if *provisionURL != "" {
		sc := stream.Config{Name: *streamName, SubjectPrefix: *prefix, Replicas: *replicas, DuplicateWindow: *duplicates}
		if err := provisionRemote(*provisionURL, *adminPasswordFile, *caFile, sc); err != nil {
			fmt.Fprintln(os.Stderr, "devnats:", err)
			os.Exit(1)
		}
		return
	}
	syncInterval, syncAlways, err := parseSync(*sync)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devnats:", err)
		os.Exit(2)
	}
	st := storage{dir: *storeDir, syncInterval: syncInterval, syncAlways: syncAlways}
	cl, err := parseCluster(*name, *clusterAddr, *clusterName, *routes)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devnats:", err)
		os.Exit(2)
	}
	if *replicas < 1 || *replicas > 1 && cl.addr == "" {
		fmt.Fprintf(os.Stderr, "devnats: -replicas %d: want 1, or more with -cluster\n", *replicas)
		os.Exit(2)
	}
	sc := stream.Config{Name: *streamName, SubjectPrefix: *prefix, Replicas: *replicas, DuplicateWindow: *duplicates}
	if err := run(*addr, st, cl, *usersDir, sc); err != nil {
		fmt.Fprintln(os.Stderr, "devnats:", err)
		os.Exit(1)
	}
}

// storage is where JetStream keeps its files and how often it fsyncs them.
type storage struct {
	dir string
	// syncInterval between fsyncs (0: the server's default); syncAlways
	// fsyncs every write.
	syncInterval time.Duration
	syncAlways   bool
}

// parseSync reads -sync as nats-server's sync_interval setting reads it.
func parseSync(v string) (interval time.Duration, always bool, err error) {
	switch v {
	case "":
		return 0, false, nil
	case "always":
		return 0, true, nil
	}
	interval, err = time.ParseDuration(v)
	if err != nil || interval <= 0 {
		return 0, false, fmt.Errorf(`-sync %q: want "always" or a positive duration`, v)
	}
	return interval, false, nil
}

// cluster is the server's place in a JetStream cluster; addr "" is none.
type cluster struct {
	name, addr, clusterName string
	routes                  []*url.URL
}

// parseCluster reads -name, -cluster, -cluster-name and -routes.
func parseCluster(name, addr, clusterName, routes string) (cluster, error) {
	c := cluster{name: name, addr: addr, clusterName: clusterName}
	if name == "" {
		return c, errors.New("-name: must not be empty")
	}
	if addr == "" {
		if routes != "" {
			return c, errors.New("-routes: only with -cluster")
		}
		return c, nil
	}
	if _, _, err := hostPort(addr); err != nil {
		return c, fmt.Errorf("-cluster: %w", err)
	}
	if clusterName == "" {
		return c, errors.New("-cluster-name: must not be empty")
	}
	for r := range strings.SplitSeq(routes, ",") {
		if r == "" {
			continue
		}
		u, err := url.Parse(r)
		if err != nil || u.Scheme != "nats" || u.Host == "" {
			return c, fmt.Errorf("-routes: %q is not nats://host:port", r)
		}
		c.routes = append(c.routes, u)
	}
	return c, nil
}

// hostPort splits host:port, the port a number.
func hostPort(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return "", 0, fmt.Errorf("%q: port must be a number", addr)
	}
	return host, port, nil
}

func run(addr string, st storage, cl cluster, usersDir string, sc stream.Config) error {
	host, port, err := hostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	sc = sc.WithDefaults()
	passwords, err := passwordFiles(usersDir)
	if err != nil {
		return err
	}
	users, err := natsperm.Users(sc.Name, sc.SubjectPrefix, passwords)
	if err != nil {
		return err
	}
	opts := &server.Options{
		ServerName:   cl.name,
		Host:         host,
		Port:         port,
		JetStream:    true,
		StoreDir:     st.dir,
		SyncInterval: st.syncInterval,
		SyncAlways:   st.syncAlways,
		Users:        users,
	}
	if cl.addr != "" {
		// Routes on loopback or a private network, without credentials:
		// a development cluster (deploy/ has the production one).
		opts.Cluster.Name = cl.clusterName
		opts.Cluster.Host, opts.Cluster.Port, _ = hostPort(cl.addr)
		opts.Routes = cl.routes
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return err
	}
	ns.ConfigureLogger()
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("not ready after 10s (is %s already in use?)", addr)
	}
	admin := stream.Credentials{User: natsperm.Admin, Password: passwords[natsperm.Admin]}
	provisioned := provision(ns.ClientURL(), admin, sc)
	// A cluster's servers start one by one: until enough of them have met
	// and chosen a leader, JetStream cannot create a replicated stream.
	for deadline := time.Now().Add(time.Minute); provisioned != nil && cl.addr != "" && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		provisioned = provision(ns.ClientURL(), admin, sc)
	}
	if provisioned != nil {
		ns.Shutdown()
		return provisioned
	}
	fmt.Printf("nats-server %s %s listening on nats://%s, JetStream in %s; users and passwords in %s; stream %s (%s.>, %d replicas) provisioned\n",
		server.VERSION, cl.name, addr, st.dir, usersDir, sc.Name, sc.SubjectPrefix, sc.Replicas)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	ns.Shutdown()
	ns.WaitForShutdown()
	return nil
}

// printPermissions writes the services' permissions as JSON, by user name.
func printPermissions(sc stream.Config) error {
	sc = sc.WithDefaults()
	all := map[string]*server.Permissions{}
	for _, service := range natsperm.Services {
		all[service] = natsperm.Permissions(service, sc.Name, sc.SubjectPrefix)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // ">" as NATS writes it
	return enc.Encode(all)
}

// provisionRemote provisions the stream on the server at url as the
// administrator, whose password is in passwordFile.
func provisionRemote(url, passwordFile, caFile string, sc stream.Config) error {
	if passwordFile == "" {
		return errors.New("-provision: -admin-password-file is required (the password of NATS user " + natsperm.Admin + ")")
	}
	b, err := os.ReadFile(passwordFile)
	if err != nil {
		return fmt.Errorf("-admin-password-file: %w", err)
	}
	password := strings.TrimRight(string(b), "\r\n")
	if password == "" {
		return fmt.Errorf("-admin-password-file: %s is empty", passwordFile)
	}
	if sc.Replicas < 1 {
		return fmt.Errorf("-replicas: must be at least 1, got %d", sc.Replicas)
	}
	sc = sc.WithDefaults()
	if err := provision(url, stream.Credentials{User: natsperm.Admin, Password: password, CAFile: caFile}, sc); err != nil {
		return err
	}
	fmt.Printf("stream %s (%s.>, %d replicas) provisioned on %s\n", sc.Name, sc.SubjectPrefix, sc.Replicas, url)
	return nil
}

// provision creates the stream, or updates it to sc, as the administrator.
func provision(url string, admin stream.Credentials, sc stream.Config) error {
	nc, js, err := stream.Connect(url, "devnats", admin, nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = stream.Ensure(ctx, js, sc)
	return err
}

// passwordFiles reads each user's password from dir/<user>, writing a
// random one first where there is none.
func passwordFiles(dir string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("-users: %w", err)
	}
	passwords := map[string]string{}
	for _, user := range natsperm.Names() {
		file := filepath.Join(dir, user)
		b, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			random := make([]byte, 24)
			_, _ = rand.Read(random)
			b = []byte(base64.RawURLEncoding.EncodeToString(random))
			err = os.WriteFile(file, b, 0o600)
		}
		if err != nil {
			return nil, fmt.Errorf("-users: %w", err)
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("-users: %s is empty", file)
		}
		passwords[user] = string(b)
	}
	return passwords, nil
}
