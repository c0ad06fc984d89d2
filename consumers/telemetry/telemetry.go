package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// The exporter names OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER accept.
const (
	ExporterNone       = "none"
	ExporterConsole    = "console"
	ExporterOTLP       = "otlp"
	ExporterGCP        = "gcp"
	ExporterPrometheus = "prometheus" // metrics only
)

// Config is the standard OpenTelemetry environment the binaries read (package
// documentation; README: environment table). The OTLP exporters read their own
// OTEL_EXPORTER_OTLP_* variables besides these.
type Config struct {
	TracesExporter  string `env:"OTEL_TRACES_EXPORTER, default=none"`
	MetricsExporter string `env:"OTEL_METRICS_EXPORTER, default=none"`
	// OTLPProtocol is the OTLP transport: http/protobuf (the specification's default) or grpc.
	OTLPProtocol        string `env:"OTEL_EXPORTER_OTLP_PROTOCOL, default=http/protobuf"`
	OTLPTracesProtocol  string `env:"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"`
	OTLPMetricsProtocol string `env:"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"`
	// PrometheusHost and PrometheusPort are where a consumer serves /metrics with
	// OTEL_METRICS_EXPORTER=prometheus.
	PrometheusHost string `env:"OTEL_EXPORTER_PROMETHEUS_HOST, default=localhost"`
	PrometheusPort int    `env:"OTEL_EXPORTER_PROMETHEUS_PORT, default=9464"`
}

// Load reads the configuration from l (envconfig.OsLookuper() in production) and checks
// the exporter names, so that a typo stops the binary at start instead of losing every
// span.
func Load(ctx context.Context, l envconfig.Lookuper) (Config, error) {
	var c Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: l}); err != nil {
		return c, fmt.Errorf("reading the OpenTelemetry environment: %w", err)
	}
	return c, c.check()
}

func (c Config) check() error {
	var errs []error
	switch c.TracesExporter {
	case ExporterNone, ExporterConsole, ExporterOTLP, ExporterGCP:
	default:
		errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: use none, console, otlp or gcp", c.TracesExporter))
	}
	switch c.MetricsExporter {
	case ExporterNone, ExporterConsole, ExporterOTLP, ExporterGCP, ExporterPrometheus:
	default:
		errs = append(errs, fmt.Errorf("OTEL_METRICS_EXPORTER=%q: use none, console, otlp, gcp or prometheus", c.MetricsExporter))
	}
	for name, p := range map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": c.OTLPProtocol,
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": c.OTLPTracesProtocol, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": c.OTLPMetricsProtocol} {
		if p != "" && p != "grpc" && p != "http/protobuf" {
			errs = append(errs, fmt.Errorf("%s=%q: use http/protobuf or grpc", name, p))
		}
	}
	if c.PrometheusPort < 0 || c.PrometheusPort > 65535 {
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_PROMETHEUS_PORT=%d: use a TCP port (0: any free one)", c.PrometheusPort))
	}
	return errors.Join(errs...)
}

// PrometheusAddr is the address a consumer serves /metrics on.
func (c Config) PrometheusAddr() string {
	return fmt.Sprintf("%s:%d", c.PrometheusHost, c.PrometheusPort)
}

// Options say what Setup cannot read from the environment.
type Options struct {
	// Service is the default service.name (OTEL_SERVICE_NAME overrides it).
	Service string
	// Project is the Google Cloud project of the gcp exporters.
	Project string
	// Console receives the console exporters' output; nil means os.Stderr (stdout carries
	// the consumers' log lines and the producer's answers).
	Console io.Writer
	// Prometheus adds a Prometheus reader whatever OTEL_METRICS_EXPORTER says: the status
	// server always serves /metrics.
	Prometheus bool
	// Spans, when set, receives every span besides the exporter OTEL_TRACES_EXPORTER
	// names: the local stack keeps its consumers' spans for its trace view this way,
	// whatever the user exports.
	Spans sdktrace.SpanExporter
}

// Telemetry is what Setup built: the providers to use and how to flush them.
type Telemetry struct {
	// TracerProvider and MeterProvider are the SDK's, or the no-op ones when nothing is
	// exported.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Metrics serves the Prometheus text of every instrument (nil without a Prometheus
	// reader).
	Metrics http.Handler

	shutdown []func(context.Context) error
}

// Setup builds the providers the configuration asks for. With both exporters none (and no
// Prometheus option) it builds nothing and returns the no-op providers.
func Setup(ctx context.Context, c Config, o Options) (*Telemetry, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if o.Console == nil {
		o.Console = os.Stderr
	}
	t := &Telemetry{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()}
	if c.TracesExporter == ExporterNone && c.MetricsExporter == ExporterNone && !o.Prometheus && o.Spans == nil {
		return t, nil
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(o.Service)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	var batchers []sdktrace.TracerProviderOption
	if c.TracesExporter != ExporterNone {
		exp, err := spanExporter(ctx, c, o)
		if err != nil {
			return nil, err
		}
		batchers = append(batchers, sdktrace.WithBatcher(exp))
	}
	if o.Spans != nil {
		batchers = append(batchers, sdktrace.WithBatcher(o.Spans))
	}
	if len(batchers) > 0 {
		tp := sdktrace.NewTracerProvider(append(batchers, sdktrace.WithResource(res))...)
		t.TracerProvider = tp
		t.shutdown = append(t.shutdown, tp.Shutdown)
	}
	var readers []sdkmetric.Option
	if c.MetricsExporter != ExporterNone && c.MetricsExporter != ExporterPrometheus {
		exp, err := metricExporter(ctx, c, o)
		if err != nil {
			return nil, errors.Join(err, t.Shutdown(ctx))
		}
		readers = append(readers, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	}
	if c.MetricsExporter == ExporterPrometheus || o.Prometheus {
		reg := promclient.NewRegistry()
		exp, err := prometheus.New(prometheus.WithRegisterer(reg))
		if err != nil {
			return nil, errors.Join(fmt.Errorf("prometheus exporter: %w", err), t.Shutdown(ctx))
		}
		readers = append(readers, sdkmetric.WithReader(exp))
		t.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	if len(readers) > 0 {
		mp := sdkmetric.NewMeterProvider(append(readers, sdkmetric.WithResource(res))...)
		t.MeterProvider = mp
		t.shutdown = append(t.shutdown, mp.Shutdown)
	}
	return t, nil
}

func spanExporter(ctx context.Context, c Config, o Options) (sdktrace.SpanExporter, error) {
	var exp sdktrace.SpanExporter
	var err error
	switch c.TracesExporter {
	case ExporterConsole:
		exp, err = stdouttrace.New(stdouttrace.WithWriter(o.Console))
	case ExporterOTLP:
		if protocol(c.OTLPTracesProtocol, c.OTLPProtocol) == "grpc" {
			exp, err = otlptracegrpc.New(ctx)
		} else {
			exp, err = otlptracehttp.New(ctx)
		}
	case ExporterGCP:
		if o.Project == "" {
			return nil, errors.New("OTEL_TRACES_EXPORTER=gcp needs the project: set GOOGLE_CLOUD_PROJECT")
		}
		exp, err = cloudTrace(ctx, o.Project)
	}
	if err != nil {
		return nil, fmt.Errorf("%s trace exporter: %w", c.TracesExporter, err)
	}
	return exp, nil
}

func metricExporter(ctx context.Context, c Config, o Options) (sdkmetric.Exporter, error) {
	var exp sdkmetric.Exporter
	var err error
	switch c.MetricsExporter {
	case ExporterConsole:
		exp, err = stdoutmetric.New(stdoutmetric.WithWriter(o.Console))
	case ExporterOTLP:
		if protocol(c.OTLPMetricsProtocol, c.OTLPProtocol) == "grpc" {
			exp, err = otlpmetricgrpc.New(ctx)
		} else {
			exp, err = otlpmetrichttp.New(ctx)
		}
	case ExporterGCP:
		if o.Project == "" {
			return nil, errors.New("OTEL_METRICS_EXPORTER=gcp needs the project: set GOOGLE_CLOUD_PROJECT")
		}
		exp, err = cloudMonitoring(o.Project)
	}
	if err != nil {
		return nil, fmt.Errorf("%s metric exporter: %w", c.MetricsExporter, err)
	}
	return exp, nil
}

// protocol is the signal's own OTLP protocol when set, else the general one.
func protocol(signal, general string) string {
	if signal != "" {
		return signal
	}
	return strings.TrimSpace(general)
}

// Install makes t's providers the process's global ones, which the Google Cloud client
// libraries (GCS, BigQuery) and the pipeline's packages use, and sets the W3C trace
// context propagator. Only a binary's main calls it; with nothing exported it changes
// nothing.
func (t *Telemetry) Install() {
	if len(t.shutdown) == 0 {
		return
	}
	otel.SetTracerProvider(t.TracerProvider)
	otel.SetMeterProvider(t.MeterProvider)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
}

// Shutdown flushes what is still buffered and stops the exporters. A short-lived command
// must call it before exiting, or its last spans are lost.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	t.shutdown = nil
	return errors.Join(errs...)
}

// NewPrometheus builds a meter provider read only by a Prometheus handler, whatever the
// environment says: the status server's /metrics.
func NewPrometheus(ctx context.Context, service string) (*Telemetry, error) {
	return Setup(ctx, Config{TracesExporter: ExporterNone, MetricsExporter: ExporterNone, PrometheusPort: 1},
		Options{Service: service, Prometheus: true})
}
