package main

import (
	"strings"
	"testing"
)

func TestUnknownTraceExporterIsAUsageError(t *testing.T) {
	t.Parallel()
	code, _, stderr := runProducer(t, map[string]string{"OTEL_TRACES_EXPORTER": "jaeger"}, "jobs")
	if want := `OTEL_TRACES_EXPORTER="jaeger": use none, console, otlp or gcp`; code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, want)
	}
}
