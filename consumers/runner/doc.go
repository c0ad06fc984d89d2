// Package runner is the consumer runtime: it receives the phase messages of the jobs a
// process serves, runs each (job, date) once per input, records the outcome in the GCS
// ledger (package ledger) and chains the pipeline by emitting one message per downstream
// job. Jobs implement Job and never touch Pub/Sub or the ledger.
//
//	nba-phase1-scrapers ─► scrapers ─► GCS ─emit─► nba-phase2-raw ─► raw ─► BigQuery ─emit─► …
//	           │ <topic>.<job> (filtered on attributes.job), one receive loop per job
//	           └ <topic>.unroutable (catch-all): dead-letters what no job subscription takes
//
// # The ack contract
//
// For each message: decode and validate → claim the ledger record (compare-and-swap plus a
// lease) → check the hard upstreams of the date in the ledger (fan-in) → derive the input
// fingerprint from the upstream records (hard, and soft when present) → run the job under
// its Timeout, extending the lease → record succeeded or empty with fingerprints → publish
// one message per downstream job the request may reach (StopAfter) and wait for every
// result → mark the record emitted → ack. Publishing before acking means a crash in
// between causes a redelivery, which the ledger absorbs.
//
//	outcome                             the runtime
//	success                             records, emits downstream, acks
//	done with the same input            acks (emits first if the record is not emitted)
//	permanent error (Permanent, a bad   records dead, publishes the message to the
//	  message, a panic)                   dead-letter topic with reason/error attributes, acks
//	transient error                     records failed with the attempt and error, nacks;
//	                                      at MaxAttempts records dead (max_attempts) instead
//	hard upstream not done              records waiting, acks: the upstream's emit re-triggers
//	live lease held by another          waits up to LeaseWait for it to end and decides
//	                                      again; then nacks (redelivered later)
//	shutdown (Run's ctx cancelled)      stops taking messages; in-flight work may finish
//	                                      within ShutdownGrace, then is abandoned unrecorded
//
// The attempt bound counts runs in the ledger (each claim is one), not Pub/Sub delivery
// attempts: a nack for a held lease is no attempt, and the emulator (pstest) shares one
// delivery counter among all subscriptions of a topic, so DeliveryAttempt is inflated
// there. The subscription's dead-letter policy stays the backstop.
//
// A job with no upstreams has the empty input fingerprint: once succeeded, it runs again
// only with Force; an empty result is never final for it (a new message re-fetches).
// A dead record is not final either: a new message starts a new effort.
//
// Job work runs on a context that is not cancelled when shutdown starts (the client
// cancels the callback context at once), bounded by the job's Timeout and by the end of
// the grace period.
//
// # Logging
//
// One JSON line per message (NewLogHandler gives Cloud Logging's shape) with outcome,
// phase, job, date, run_id, attempt, state, rows, elapsed and err, plus the trace fields
// when the message carries a W3C traceparent, which the runtime passes on to the messages
// it emits.
package runner
