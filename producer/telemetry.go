package main

import (
	"context"
	"time"

	"github.com/nba-props/pipeline/consumers/telemetry"
	"github.com/sethvargo/go-envconfig"
)

// flushTimeout bounds the export of the last spans when a command ends.
const flushTimeout = 5 * time.Second

// startTelemetry reads the OTEL_* environment and installs its providers (nothing with the
// default none), so that enqueue's messages carry the trace of their date. The returned
// func flushes them: a command is short-lived, and unflushed spans are lost.
func startTelemetry(ctx context.Context, l envconfig.Lookuper) (func(), error) {
	cfg, err := telemetry.Load(ctx, l)
	if err != nil {
		return nil, usageError{err}
	}
	project, _ := l.Lookup("GOOGLE_CLOUD_PROJECT")
	tel, err := telemetry.Setup(ctx, cfg, telemetry.Options{Service: "producer", Project: project})
	if err != nil {
		return nil, usageError{err}
	}
	tel.Install()
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
		defer cancel()
		_ = tel.Shutdown(ctx)
	}, nil
}
