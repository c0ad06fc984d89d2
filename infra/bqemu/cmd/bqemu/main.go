// Command bqemu serves the BigQuery emulator (package bqemu) on a TCP port for processes
// that cannot embed it. Point clients at it with BIGQUERY_EMULATOR_HOST (see infra/cloud).
//
//	BQEMU_ADDR=127.0.0.1:9050 BQEMU_DATA_DIR=.local/bq STORAGE_EMULATOR_HOST=127.0.0.1:4443 bqemu
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/nba-props/pipeline/infra/bqemu"
	"github.com/nba-props/pipeline/infra/cloud"
)

// config is the emulator's environment.
type config struct {
	Addr                string `env:"BQEMU_ADDR, default=127.0.0.1:9050"`
	DataDir             string `env:"BQEMU_DATA_DIR"`
	Projects            string `env:"BQEMU_PROJECTS"`
	Location            string `env:"BQEMU_LOCATION, default=US"`
	StorageEmulatorHost string `env:"STORAGE_EMULATOR_HOST"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{ReplaceAttr: cloudLoggingKeys}))
	if err := run(ctx, envconfig.OsLookuper(), log); err != nil {
		log.Error("bqemu failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, l envconfig.Lookuper, log *slog.Logger) error {
	var c config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: l}); err != nil {
		return fmt.Errorf("reading the environment: %w", err)
	}
	opts := bqemu.Options{DuckDBPath: c.DataDir, DefaultLocation: c.Location, Logger: log}
	for _, p := range strings.Split(c.Projects, ",") {
		if p = strings.TrimSpace(p); p != "" {
			opts.Projects = append(opts.Projects, p)
		}
	}
	if c.StorageEmulatorHost != "" {
		gcs, err := cloud.Storage(ctx, c.StorageEmulatorHost)
		if err != nil {
			return err
		}
		defer gcs.Close()
		opts.GCS = bqemu.StorageSource(gcs)
	}
	s, err := bqemu.New(opts)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (BQEMU_ADDR): %w", c.Addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	log.Info("bigquery emulator listening", "addr", ln.Addr().String(), "data_dir", c.DataDir)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// cloudLoggingKeys renames slog's level and msg keys to the ones Cloud Logging reads.
func cloudLoggingKeys(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		a.Key = "severity"
	case slog.MessageKey:
		a.Key = "message"
	}
	return a
}
