// Command ferretdb-embedded runs FerretDB v1.24 (MongoDB wire protocol, SQLite
// backend) on a loopback address. FerretDB's own cmd/ferretdb panics when built
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
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data", "", "folder for the SQLite databases (created if missing)")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	writeTimeout := flag.Duration("write-timeout", 30*time.Second,
		"longest a write command may wait for its database's lock and FerretDB's answer")
	flag.Parse()

	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "ferretdb-embedded: -data is required")
		os.Exit(2)
	}
	if *writeTimeout <= 0 {
		fmt.Fprintln(os.Stderr, "ferretdb-embedded: -write-timeout must be positive")
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

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{Unix: socket},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    logger,
	})
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

	fmt.Fprintf(os.Stderr, "ferretdb-embedded: listening on %s (FerretDB itself on %s), data in %s\n",
		*listen, socket, dir)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "ferretdb-embedded: %v\n", err)
		_ = os.RemoveAll(socketDir)
		os.Exit(1)
	}
}
