// Package runner is the consumer runtime: it receives the phase messages of the jobs a
// process serves, runs each (job, date) once per input, records the outcome in the GCS
// ledger (package ledger) and chains the pipeline by emitting one message per downstream
// job. Jobs implement Job and never touch Pub/Sub or the ledger.
//
//	nba-phase1-scrapers ─► scrapers ─► GCS ─emit─► nba-phase2-raw ─► raw ─► BigQuery ─emit─► …
//	           │ <topic>.<job> (filtered on attributes.job), one receive loop per job
//	           └ <topic>.unroutable (catch-all): dead-letters what no job subscription takes
//
// # Transports and the one settle point
//
// A transport turns what it receives into a Delivery (data, attributes, message id,
// publish time, delivery attempt, subscription) and calls Runtime.Deliver, which returns
// a Settlement: Ack, Nack (redeliver under the retry policy) or Busy (this instance cannot
// take it now). The transport carries it out and does nothing else: Run's streaming pull
// acks or nacks in one function (settle), and an HTTP push endpoint answers with a status.
// Below Deliver nothing sees a transport's message type. Every path through the runtime
// ends in an Outcome, and Outcome.Settlement is the one table from outcome to settlement.
//
// The files follow a delivery: deliver.go (route, decode, claim), decide.go (the ledger
// decision: fan-in, duplicate, soft wait), execute.go (run the job, record the result),
// lease.go (the lease keeper), emit.go (downstream messages, trace context), deadletter.go,
// softwait.go, pull.go (the streaming-pull transport), log.go.
//
// # The contract
//
// For each delivery: route (a message of another job is acknowledged as routed: its own
// subscription has its copy) → decode and validate, and check the date against the job's
// catalogue bounds (a message that fails is dead-lettered with its reason and changes no
// ledger record) → claim the ledger record (compare-and-swap plus a lease) → check the
// hard upstreams of the date in the ledger (fan-in) → derive the input fingerprint from
// the upstream records (hard, and soft when present) → run the job under its Timeout,
// extending the lease → record succeeded or empty with fingerprints → publish one message
// per downstream job the request may reach (StopAfter) and wait for every result → mark
// the record emitted → settle. Recording and publishing before the ack means a crash in
// between causes a redelivery, which the ledger absorbs.
//
//	outcome      when                                   recorded          settlement
//	succeeded    the job ran                            succeeded/empty,  Ack
//	                                                      then emitted
//	duplicate    done with the same input               (emitted if not)  Ack
//	waiting      an upstream is not done, or a soft     waiting           Ack
//	               upstream is on its way
//	dead         Permanent error, a panic, MaxAttempts  dead, after the   Ack, after the
//	               runs, or the subscription's last       dead letter       dead-letter publish
//	               delivery; or a message that does     nothing
//	               not decode or asks for a date the
//	               source cannot serve
//	retry        transient error                        failed            Nack
//	lease_held   another consumer's live lease, still   nothing           Ack: the holder
//	               held after LeaseWait                                     finishes (and re-runs
//	                                                                        if its input changed)
//	                                                                        or the reconciler
//	                                                                        re-sends the date
//	routed       a message for another job              nothing           Ack
//	unroutable   catch-all: no job subscription takes   nothing           Ack, after the
//	               it                                                       dead-letter publish
//	not_handled  the ledger, a publish or the           nothing new       Nack
//	               dead-letter publish failed
//	abandoned    shutdown grace over                    lease handed      Busy
//	                                                      back
//
// # Nothing strands
//
// No promise lives only in memory. Whatever must happen later is in the ledger, and the
// reconciler (Reconcile: one instance at a time, by a lock in the bucket, every
// ReconcileEvery in a pulling process, on request in a push service) re-sends the request
// of every record whose next step nobody is taking: running under a lapsed lease, failed
// without a retry for RetryWithin, waiting for upstreams that have finished, or waiting
// for soft upstreams that finished, died or took longer than SoftWait. A date is thus
// re-driven within its lease (or SoftWait, or RetryWithin) plus one reconcile period of
// the moment it stranded. Every dead letter is kept in the bucket (ledger.PutDeadLetter)
// before it is published; a process with DeadLetters set also keeps what a subscription's
// own dead-letter policy forwarded, and records its date dead.
//
// The attempt bound counts runs in the ledger (each claim is one), not Pub/Sub delivery
// attempts: waiting for a held lease is no attempt, and the emulator (pstest) shares one
// delivery counter among all subscriptions of a topic, so DeliveryAttempt is inflated
// there. The subscription's dead-letter policy stays the backstop.
//
// A job with no upstreams has the empty input fingerprint: once succeeded, it runs again
// only with Force; an empty result is never final for it (a new message re-fetches).
// A dead record is not final either: a new message starts a new effort.
//
// Job work runs on a context that is not cancelled when shutdown starts (the transport
// cancels the delivery's context at once), bounded by the job's Timeout and by the end of
// the grace period.
//
// # Logging
//
// One JSON line per delivery (NewLogHandler gives Cloud Logging's shape) with outcome,
// phase, job, date, run_id, attempt, state, rows, elapsed and err, plus the trace fields
// when the message carries a W3C traceparent, which the runtime passes on to every message
// it publishes for the date.
package runner
