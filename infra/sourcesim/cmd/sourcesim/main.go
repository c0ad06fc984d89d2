// Command sourcesim serves the source simulator (package sourcesim) on a port, for the local
// stack and for trying scrapers by hand.
//
//	SOURCESIM_PORT=8090 SOURCESIM_SEED=1 SOURCESIM_NOW=2025-04-20T12:00:00Z go run ./infra/sourcesim/cmd/sourcesim
//
// Environment: SOURCESIM_PORT (default 8090; the -port flag overrides it), SOURCESIM_SEED
// (default 1), SOURCESIM_BDL_KEY and SOURCESIM_ODDS_KEY (empty accepts any key),
// SOURCESIM_NOW (RFC 3339; a fixed "current" instant, default the wall clock),
// SOURCESIM_ODDS_CREDITS (default 20000), SOURCESIM_FAULTS (a JSON array of faults),
// SOURCESIM_RATE_LIMITS (requests per minute per source, "bdl:600,odds:1800"; default none).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/nba-props/pipeline/infra/sourcesim"
)

type config struct {
	Port        int            `env:"SOURCESIM_PORT, default=8090"`
	Seed        int64          `env:"SOURCESIM_SEED, default=1"`
	BDLKey      string         `env:"SOURCESIM_BDL_KEY"`
	OddsKey     string         `env:"SOURCESIM_ODDS_KEY"`
	Now         string         `env:"SOURCESIM_NOW"`
	OddsCredits int            `env:"SOURCESIM_ODDS_CREDITS, default=20000"`
	Faults      string         `env:"SOURCESIM_FAULTS"`
	RateLimits  map[string]int `env:"SOURCESIM_RATE_LIMITS"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: cloudKeys}))
	if err := run(ctx, os.Args[1:], envconfig.OsLookuper(), logger); err != nil {
		logger.Error("sourcesim stopped", "err", err)
		os.Exit(1)
	}
}

// cloudKeys renames slog's level and msg to the keys Cloud Logging reads.
func cloudKeys(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 {
		switch a.Key {
		case slog.LevelKey:
			a.Key = "severity"
		case slog.MessageKey:
			a.Key = "message"
		}
	}
	return a
}

// simConfig turns the environment into a sourcesim.Config.
func simConfig(c config) (sourcesim.Config, error) {
	sc := sourcesim.Config{
		Seed:        c.Seed,
		Keys:        sourcesim.Keys{BDLKey: c.BDLKey, OddsKey: c.OddsKey},
		OddsCredits: c.OddsCredits,
		RateLimits:  c.RateLimits,
	}
	if c.Now != "" {
		now, err := time.Parse(time.RFC3339, c.Now)
		if err != nil {
			return sc, fmt.Errorf("SOURCESIM_NOW %q: want RFC 3339 such as 2025-04-20T12:00:00Z: %w", c.Now, err)
		}
		sc.Now = func() time.Time { return now }
	}
	if c.Faults != "" {
		if err := json.Unmarshal([]byte(c.Faults), &sc.Faults); err != nil {
			return sc, fmt.Errorf("SOURCESIM_FAULTS: want a JSON array of faults: %w", err)
		}
		for i, f := range sc.Faults {
			if err := f.Validate(); err != nil {
				return sc, fmt.Errorf("SOURCESIM_FAULTS fault %d: %w", i, err)
			}
		}
	}
	return sc, nil
}

func run(ctx context.Context, args []string, env envconfig.Lookuper, logger *slog.Logger) error {
	var c config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: env}); err != nil {
		return fmt.Errorf("read environment: %w", err)
	}
	fs := flag.NewFlagSet("sourcesim", flag.ContinueOnError)
	port := fs.Int("port", c.Port, "port to listen on (0 picks a free one)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	sc, err := simConfig(c)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", *port, err)
	}
	srv := &http.Server{Handler: sourcesim.New(sc).Handler(), ReadHeaderTimeout: 10 * time.Second}
	logger.Info("sourcesim listening", "addr", ln.Addr().String(), "seed", sc.Seed, "keys", sc.Keys)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
