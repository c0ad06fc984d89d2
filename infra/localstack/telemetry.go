package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/nba-props/pipeline/consumers/telemetry"
	"github.com/sethvargo/go-envconfig"
)

// stackTelemetry is the in-process consumers' OpenTelemetry, as a separate `go run
// ./consumers` would set it up from the same OTEL_* environment, plus what the local
// stack adds where the user set nothing: every span goes to the stack's trace view
// (traceView, which also takes the producer's spans by OTLP), and the metrics are served
// as Prometheus text, unless OTEL_METRICS_EXPORTER names another exporter.
type stackTelemetry struct {
	tel        *telemetry.Telemetry
	servers    []*http.Server
	tracesURL  string // the trace view ("" without one)
	metricsURL string // the Prometheus text ("" without it)
}

// startTelemetry installs the consumers' providers as the process's global ones (the
// consumer runtime, the ledger and the Google clients read those) before the consumers
// start, serves the trace view on host:tracesPort (negative: none) and the Prometheus
// text on host:metricsPort (OTEL_EXPORTER_PROMETHEUS_HOST and _PORT override them).
func startTelemetry(ctx context.Context, env envconfig.Lookuper, host string, tracesPort, metricsPort int, project string) (*stackTelemetry, error) {
	if env == nil {
		env = envconfig.MapLookuper(nil)
	}
	defaults := envconfig.MapLookuper(map[string]string{
		"OTEL_METRICS_EXPORTER":         telemetry.ExporterPrometheus,
		"OTEL_EXPORTER_PROMETHEUS_HOST": host,
		"OTEL_EXPORTER_PROMETHEUS_PORT": strconv.Itoa(metricsPort),
	})
	cfg, err := telemetry.Load(ctx, envconfig.MultiLookuper(env, defaults))
	if err != nil {
		return nil, err
	}
	st := &stackTelemetry{}
	o := telemetry.Options{Service: "consumers", Project: project}
	if tracesPort >= 0 {
		view := newTraceView()
		u, err := st.serve(net.JoinHostPort(host, strconv.Itoa(tracesPort)), view.handler(), "trace view (--traces-port)")
		if err != nil {
			return nil, err
		}
		st.tracesURL = u
		o.Spans = view
	}
	if st.tel, err = telemetry.Setup(ctx, cfg, o); err != nil {
		return nil, errors.Join(err, st.stop())
	}
	st.tel.Install()
	if st.tel.Metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", st.tel.Metrics)
		u, err := st.serve(cfg.PrometheusAddr(), mux, "consumer metrics (--metrics-port, OTEL_EXPORTER_PROMETHEUS_PORT)")
		if err != nil {
			return nil, errors.Join(err, st.stop())
		}
		st.metricsURL = u + "/metrics"
	}
	return st, nil
}

func (st *stackTelemetry) serve(addr string, h http.Handler, what string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s on %s: %w", what, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	st.servers = append(st.servers, srv)
	return "http://" + ln.Addr().String(), nil
}

// tracesVars point another process's spans (the producer's) at the trace view: the
// standard OTLP exporter over HTTP. Nothing without a trace view.
func (st *stackTelemetry) tracesVars() [][2]string {
	if st == nil || st.tracesURL == "" {
		return nil
	}
	return [][2]string{{"OTEL_TRACES_EXPORTER", telemetry.ExporterOTLP}, {"OTEL_EXPORTER_OTLP_ENDPOINT", st.tracesURL}}
}

// traceLink is the status page's TRACE_URL_TEMPLATE: a cell's trace in the trace view.
func (st *stackTelemetry) traceLink() [][2]string {
	if st == nil || st.tracesURL == "" {
		return nil
	}
	return [][2]string{{"TRACE_URL_TEMPLATE", st.tracesURL + "/traces/{trace_id}"}}
}

// print says where the traces and the metrics are.
func (st *stackTelemetry) print(w io.Writer) {
	if st.tracesURL != "" {
		fmt.Fprintf(w, "traces: %s/traces/ (one per run and date; the status page links each cell's)\n", st.tracesURL)
	}
	if st.metricsURL != "" {
		fmt.Fprintf(w, "metrics: %s (the consumers', Prometheus text)\n", st.metricsURL)
	}
}

// stop flushes the last spans and stops the servers.
func (st *stackTelemetry) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	if st.tel != nil {
		errs = append(errs, st.tel.Shutdown(ctx))
	}
	for _, s := range st.servers {
		errs = append(errs, s.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
