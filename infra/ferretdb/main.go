// Command ferretdb-embedded runs FerretDB v1.24 (MongoDB wire protocol) on a loopback
// address, on its SQLite backend (a folder of database files) or its PostgreSQL backend
// (a PostgreSQL server the caller runs). FerretDB's own cmd/ferretdb panics when built
// from the module (it needs a version.txt the module lacks), so it is embedded.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "FerretDB's backend: sqlite or postgresql")
	dataDir := flag.String("data", "", "sqlite: folder for the SQLite databases (created if missing)")
	postgresqlURL := flag.String("postgresql-url", "",
		"postgresql: the server's URL, e.g. postgres://user@127.0.0.1:5432/postgres")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	writeTimeout := flag.Duration("write-timeout", 30*time.Second,
		"longest a write command may wait for its database's lock and FerretDB's answer")
	gcPercent := flag.Int("gc-percent", 400,
		"Go's GOGC for this process unless the GOGC variable is set (Go's default is 100)")
	flag.Parse()

	// FerretDB allocates a lot per request (BSON, its own types, SQL text) on a heap of a
	// few MB, so at Go's default the collector runs every few tens of ms: at 700 commands/s
	// (bench.throughput's open loop) 400 took its CPU from 0.44-0.46 to 0.36-0.38 cores
	// (1,000: no better), for a resident size of about 70 MB.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(*gcPercent)
	}

	if *writeTimeout <= 0 {
		fmt.Fprintln(os.Stderr, "ferretdb-embedded: -write-timeout must be positive")
		os.Exit(2)
	}
	config := ferretdb.Config{Handler: *handler}
	var where string
	switch *handler {
	case "sqlite":
		if *dataDir == "" {
			fmt.Fprintln(os.Stderr, "ferretdb-embedded: -data is required with -handler sqlite")
			os.Exit(2)
		}
		dir, err := filepath.Abs(*dataDir)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "ferretdb-embedded: data folder: %v\n", err)
			os.Exit(1)
		}
		config.SQLiteURL = "file:" + dir + "/"
		where = "data in " + dir
	case "postgresql":
		if *postgresqlURL == "" {
			fmt.Fprintln(os.Stderr, "ferretdb-embedded: -postgresql-url is required with -handler postgresql")
			os.Exit(2)
		}
		config.PostgreSQLURL = *postgresqlURL
		where = "data in PostgreSQL at " + *postgresqlURL
	default:
		fmt.Fprintf(os.Stderr, "ferretdb-embedded: -handler %q: want sqlite or postgresql\n", *handler)
		os.Exit(2)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-embedded: -log-level: %v\n", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// FerretDB itself listens on a Unix socket; clients reach it through the proxy
	// (proxy.go) that makes single-document writes atomic. The socket lives in a short
	// private folder, not in the data folder (a socket path is limited to 107 bytes).
	socketDir, err := os.MkdirTemp("", "ferretdb-embedded-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-embedded: socket folder: %v\n", err)
		os.Exit(1)
	}
	defer os.RemoveAll(socketDir)
	socket := filepath.Join(socketDir, "ferretdb.sock")
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-embedded: %v\n", err)
		_ = os.RemoveAll(socketDir)
		os.Exit(1)
	}

	config.Listener = ferretdb.ListenerConfig{Unix: socket}
	config.Logger = logger
	f, err := ferretdb.New(&config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-embedded: %v\n", err)
		_ = os.RemoveAll(socketDir)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	go func() {
		<-ctx.Done()
		listener.Close()
	}()
	go func() {
		if err := serveProxy(listener, socket, *writeTimeout, logger); err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "ferretdb-embedded: proxy: %v\n", err)
			stop()
		}
	}()

	fmt.Fprintf(os.Stderr, "ferretdb-embedded: listening on %s (FerretDB itself on %s, %s backend), %s\n",
		*listen, socket, *handler, where)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "ferretdb-embedded: %v\n", err)
		_ = os.RemoveAll(socketDir)
		os.Exit(1)
	}
}
