//lint:file-ignore SA1019 Google's Cloud Trace and Cloud Monitoring exporters are deprecated in favour of OTLP to telemetry.googleapis.com, which needs Google credentials the standard OTLP exporters cannot obtain; they still export, and gcp is the one place to switch.

package telemetry

import (
	"context"

	mexporter "github.com/GoogleCloudPlatform/opentelemetry-operations-go/exporter/metric"
	texporter "github.com/GoogleCloudPlatform/opentelemetry-operations-go/exporter/trace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// cloudTrace exports spans to Cloud Trace in project with the default credentials.
func cloudTrace(ctx context.Context, project string) (sdktrace.SpanExporter, error) {
	return texporter.New(texporter.WithProjectID(project), texporter.WithContext(ctx))
}

// cloudMonitoring exports metrics to Cloud Monitoring in project with the default
// credentials.
func cloudMonitoring(project string) (sdkmetric.Exporter, error) {
	return mexporter.New(mexporter.WithProjectID(project))
}
