package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/nba-props/pipeline/infra/sourcesim"
)

func TestSimConfig(t *testing.T) {
	t.Parallel()
	sc, err := simConfig(config{Seed: 3, Now: "2025-01-10T17:00:00Z", OddsCredits: 50,
		Faults: `[{"source":"bdl","dataset":"stats","kind":"rate_limit","first":2}]`})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Seed != 3 || sc.OddsCredits != 50 || !sc.Now().Equal(time.Date(2025, 1, 10, 17, 0, 0, 0, time.UTC)) ||
		len(sc.Faults) != 1 || sc.Faults[0].Kind != sourcesim.FaultRateLimit {
		t.Errorf("simConfig = %+v", sc)
	}
	for _, bad := range []config{
		{Now: "yesterday"},
		{Faults: `{"kind":"rate_limit"}`},
		{Faults: `[{"kind":"explode"}]`},
	} {
		if _, err := simConfig(bad); err == nil {
			t.Errorf("simConfig(%+v) accepted", bad)
		}
	}
	if _, err := simConfig(config{Faults: `[{"kind":"explode"}]`}); !errors.Is(err, sourcesim.ErrBadFault) {
		t.Errorf("bad fault kind: %v, want ErrBadFault", err)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env := envconfig.MapLookuper(map[string]string{"SOURCESIM_SEED": "4", "SOURCESIM_RATE_LIMITS": "bdl:600,odds:30"})
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if err := run(ctx, []string{"-port", "0"}, env, logger); err != nil {
		t.Errorf("run with a cancelled context: %v", err)
	}
	bad := envconfig.MapLookuper(map[string]string{"SOURCESIM_NOW": "soon"})
	if err := run(ctx, []string{"-port", "0"}, bad, logger); err == nil {
		t.Error("run accepted SOURCESIM_NOW=soon")
	}
}

func TestRateLimitsFromEnvironment(t *testing.T) {
	t.Parallel()
	var c config
	env := envconfig.MapLookuper(map[string]string{"SOURCESIM_RATE_LIMITS": "bdl:600,odds:30"})
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &c, Lookuper: env}); err != nil {
		t.Fatal(err)
	}
	if c.RateLimits["bdl"] != 600 || c.RateLimits["odds"] != 30 || c.Port != 8090 || c.Seed != 1 || c.OddsCredits != 20000 {
		t.Errorf("config %+v", c)
	}
}
