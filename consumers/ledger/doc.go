// Package ledger keeps the processing record of every (phase, job, date) in GCS, one small
// JSON object per key at _ledger/<phase>/<job>/<date>.json.
//
// The record says where a date stands (running with a lease, succeeded, empty, waiting,
// failed, dead), how often it was attempted, what it read (the input fingerprint: the
// output fingerprints of its upstream records) and what it wrote (objects, rows per
// partition, the output fingerprint), and whether the downstream messages went out.
//
// # Compare-and-swap
//
// Every transition is one object upload with a generation precondition: create with
// DoesNotExist, update with GenerationMatch of the generation that was read. GCS applies
// the check and the write atomically, so of two consumers moving the same record one gets
// ErrConflict and must re-read. Deletes, metadata patches and copies are never used: the
// local emulator (fake-gcs-server) ignores their preconditions, so a ledger built on them
// would pass its tests and fail in production.
//
// # Leases
//
// A running record names its owner and an expiry. The owner extends it while the job runs;
// a consumer that crashes stops extending it, and once it lapses any consumer may claim the
// date again.
//
// # Status without reading bodies
//
// State, attempts, rows, emitted, run id, lease and a truncated last error are also written
// as object metadata, so List turns one prefix listing into a status grid.
package ledger
