// Package telemetry sets up OpenTelemetry for the producer and the consumers, and carries
// trace context through Pub/Sub messages, so that one (run, date) is one trace from the
// producer through every phase.
//
// # Traces
//
// The producer starts one root span per date of a run (RunTraces) and a publish span per
// message, whose W3C traceparent goes into the message's googclient_traceparent attribute,
// the key the Pub/Sub client library itself uses. The consumer runtime continues it: a
// span per delivery, with child spans for the ledger's reads and writes, the job's run (and
// inside it the source requests with their retries and rate-limiter waits, the GCS writes
// and the BigQuery jobs), and a publish span per message it emits, whose traceparent the
// downstream message carries. Log lines carry the same trace and span ids in Cloud
// Logging's fields, so a log line opens its span.
//
// # Exporters
//
// Chosen by the standard environment, read by Load: OTEL_TRACES_EXPORTER is none (the
// default: nothing is recorded or sent), console (JSON spans on stderr), otlp (the OTLP
// exporter over OTEL_EXPORTER_OTLP_PROTOCOL, http/protobuf or grpc, to
// OTEL_EXPORTER_OTLP_ENDPOINT and the other OTEL_EXPORTER_OTLP_* variables, which the
// exporter reads itself) or gcp (Cloud Trace in GOOGLE_CLOUD_PROJECT, with the default
// credentials). OTEL_METRICS_EXPORTER is none (the default), console, otlp, gcp (Cloud
// Monitoring) or prometheus (Prometheus text: the consumers serve /metrics on
// OTEL_EXPORTER_PROMETHEUS_HOST:OTEL_EXPORTER_PROMETHEUS_PORT, localhost:9464 by default;
// the producer's status server serves it on its own address). OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and OTEL_METRIC_EXPORT_INTERVAL are read by
// the SDK as usual.
//
// With both exporters none, Setup installs nothing: the global providers stay the no-op
// ones, spans cost nothing, and the traceparent of an incoming message is still passed on
// unchanged to the messages it leads to.
package telemetry
