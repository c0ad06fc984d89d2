// Package topology declares the pipeline's cloud resources once, in Go: Pub/Sub topics and
// subscriptions, the bucket, and the BigQuery datasets and tables. Apply creates or updates
// them idempotently against the emulators or a real project.
package topology
