// Command devnats runs a current nats-server, in-process, with JetStream on,
// for `make run` on a machine whose own NATS is old or absent. Production
// runs a real NATS cluster (deploy/).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4250", "host:port to listen on")
	storeDir := flag.String("store", ".data/nats", "JetStream storage folder")
	flag.Parse()
	if err := run(*addr, *storeDir); err != nil {
		fmt.Fprintln(os.Stderr, "devnats:", err)
		os.Exit(1)
	}
}

func run(addr, storeDir string) error {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("-addr %q: port must be a number", addr)
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "devnats",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
	})
	if err != nil {
		return err
	}
	ns.ConfigureLogger()
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("not ready after 10s (is %s already in use?)", addr)
	}
	fmt.Printf("nats-server %s listening on nats://%s, JetStream in %s\n", server.VERSION, addr, storeDir)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	ns.Shutdown()
	ns.WaitForShutdown()
	return nil
}
