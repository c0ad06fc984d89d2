// Package messages is the contract between the producer and the consumers: the request
// message, the phases and their topics, subscription names, and the job catalogue with its
// upstream edges. Both sides import it; it imports nothing of this project.
//
// # Phases
//
//	producer enqueue ─► nba-phase1-scrapers ─► scrapers ─► GCS raw JSON
//	                                               │ emits
//	                                               ▼
//	                    nba-phase2-raw ─► raw processors ─► BigQuery nba_raw.*
//	                                               │ emits (fan-out to every dependent job)
//	                              ┌────────────────┴──────────────┐
//	                              ▼                               ▼
//	            nba-reference ─► player_registry    nba-phase3-analytics ─► analytics ─► nba_analytics.*
//	                              │ soft upstream of analytics    │ emits
//	                              └───────────────►               ▼
//	                                             nba-phase4-precompute (declared; no jobs yet)
//
// Every job has one subscription, <topic>.<job>, filtered on attributes.job. A consumer that
// finishes (job, date) publishes one Request per downstream job: the jobs that name it as a
// hard or soft upstream in the Catalog. Downstream edges are derived, never declared twice.
//
// # Compatibility rule
//
// The body is JSON with a version number. Within a version, fields may be added but never
// renamed, retyped or removed; consumers reject unknown fields, so a new field is rolled out
// consumers first, producer second. Anything else is a new version, and consumers reject a
// version they do not know (a permanent error: the message goes to the dead-letter topic).
// The routing fields (version, phase, job, date, run_id, lane) are duplicated into Pub/Sub
// attributes so that subscription filters, logs and dashboards work without decoding bodies;
// Decode checks that attributes and body agree.
//
// Dates are US Eastern game dates in YYYY-MM-DD form. A consumer never derives a date from
// its own clock.
package messages
