package ledger

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/storage"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/messages"
)

// Prefix is the object name prefix of every ledger record in the bucket.
const Prefix = "_ledger/"

var (
	// ErrNotFound means the (job, date) has no record yet: it never ran.
	ErrNotFound = errors.New("ledger record not found")
	// ErrConflict means the record changed since it was read (a generation precondition
	// failed): another consumer moved it first. Re-read and decide again.
	ErrConflict = errors.New("ledger record changed concurrently")
)

// Metadata keys copied from the record body onto the object, so that a listing shows a
// status grid without reading bodies.
const (
	MetaState        = "state"
	MetaAttempts     = "attempts"
	MetaRows         = "rows"
	MetaObjects      = "objects"
	MetaEmitted      = "emitted"
	MetaLastError    = "last_error"
	MetaUpdated      = "updated"
	MetaRunID        = "run_id"
	MetaLeaseOwner   = "lease_owner"
	MetaLeaseExpires = "lease_expires"
	MetaReason       = "reason"
	MetaMissing      = "missing"        // hard upstreams a waiting record waits for, comma-separated
	MetaAwaiting     = "awaiting"       // soft upstreams a waiting record waits for
	MetaAwaitingFrom = "awaiting_since" // when the soft wait began
	MetaRedriven     = "redriven"       // when the reconciler last re-sent the request
	MetaIncomplete   = "incomplete"     // what a partial output lacks (game ids), comma-separated
	// MetaTraceID is the trace of the write (the date's trace, when traces are recorded), so
	// that the status page links a date to its trace.
	MetaTraceID = "trace_id"
)

// SmallObjectChunk is the writer chunk size of the pipeline's objects (ledger records,
// raw files, staging files): the smallest the API allows, so a small object is one
// upload request and a larger one a resumable upload; either appears whole or not at all.
// It is not 0, which would disable the storage client's retries of a 429 or 5xx. Every
// such write is conditional or names its content, so a retry after an answer that was
// lost is safe: it meets a failed precondition, or writes the same bytes again.
const SmallObjectChunk = googleapi.MinUploadChunkSize

// maxMetaError bounds the last error copied to metadata (object metadata is small).
const maxMetaError = 256

// Ledger reads and writes the records of one bucket. It is safe for concurrent use.
type Ledger struct {
	bucket *storage.BucketHandle
	name   string
	now    func() time.Time
	tel    instruments
}

// Options tune a Ledger.
type Options struct {
	// Now is the clock of leases and timings; nil means time.Now. Tests move it to expire
	// leases without sleeping.
	Now func() time.Time
	// TracerProvider and MeterProvider receive a span per Get, Write and List and the
	// count of writes by state; nil means the global ones (package telemetry).
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

// New returns the ledger kept in bucket.
func New(client *storage.Client, bucket string, opts Options) *Ledger {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Ledger{bucket: client.Bucket(bucket), name: bucket, now: now, tel: newInstruments(opts.TracerProvider, opts.MeterProvider)}
}

// Now is the ledger's clock.
func (l *Ledger) Now() time.Time { return l.now() }

// Path is the object name of a record: _ledger/<phase>/<job>/<date>.json.
func Path(ref messages.JobRef, date string) string {
	return Prefix + string(ref.Phase) + "/" + ref.Job + "/" + date + ".json"
}

func checkKey(ref messages.JobRef, date string) error {
	if !ref.Phase.Valid() {
		return fmt.Errorf("ledger key %s %s: %w %q", ref, date, messages.ErrUnknownPhase, ref.Phase)
	}
	if _, err := messages.ParseJobRef(ref.String()); err != nil {
		return fmt.Errorf("ledger key %s %s: %w", ref, date, err)
	}
	if _, err := messages.ParseDate(date); err != nil {
		return fmt.Errorf("ledger key %s %s: %w", ref, date, err)
	}
	return nil
}

// Get reads the record of (ref, date) and the generation to pass to Write. It returns
// ErrNotFound (and generation 0) when the date never ran.
func (l *Ledger) Get(ctx context.Context, ref messages.JobRef, date string) (Record, int64, error) {
	ctx, span := l.tel.start(ctx, "ledger.get", ref, date)
	rec, gen, err := l.get(ctx, ref, date)
	span.end(err, errors.Is(err, ErrNotFound))
	return rec, gen, err
}

func (l *Ledger) get(ctx context.Context, ref messages.JobRef, date string) (Record, int64, error) {
	if err := checkKey(ref, date); err != nil {
		return Record{}, 0, err
	}
	var rec Record
	gen, err := l.readJSON(ctx, Path(ref, date), &rec)
	if err != nil {
		return Record{}, 0, fmt.Errorf("ledger %s %s: %w", ref, date, err)
	}
	return rec, gen, nil
}

// Write stores rec if the record's current generation is generation (0: only if it does
// not exist) and returns the new generation. It fails with ErrConflict when someone wrote
// first. Every transition is such a conditional upload: GCS (and fake-gcs-server) enforce
// generation preconditions on uploads atomically.
func (l *Ledger) Write(ctx context.Context, rec Record, generation int64) (int64, error) {
	ctx, span := l.tel.start(ctx, "ledger.write", rec.Ref(), rec.Date)
	gen, err := l.write(ctx, rec, generation)
	l.tel.wrote(ctx, span, rec, err)
	span.end(err, errors.Is(err, ErrConflict))
	return gen, err
}

func (l *Ledger) write(ctx context.Context, rec Record, generation int64) (int64, error) {
	ref := rec.Ref()
	if err := checkKey(ref, rec.Date); err != nil {
		return 0, err
	}
	if !rec.State.Valid() {
		return 0, fmt.Errorf("ledger write %s %s: invalid state %q", ref, rec.Date, rec.State)
	}
	if rec.Updated.IsZero() {
		rec.Updated = l.now()
	}
	cond := storage.Conditions{DoesNotExist: true}
	if generation != 0 {
		cond = storage.Conditions{GenerationMatch: generation}
	}
	meta := metadata(rec)
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		meta[MetaTraceID] = sc.TraceID().String()
	}
	gen, err := l.writeJSON(ctx, Path(ref, rec.Date), cond, meta, rec)
	if err != nil {
		return 0, writeErr(ref, rec.Date, err)
	}
	return gen, nil
}

func writeErr(ref messages.JobRef, date string, err error) error {
	if preconditionFailed(err) {
		return fmt.Errorf("ledger write %s %s: %w", ref, date, ErrConflict)
	}
	return fmt.Errorf("ledger write %s %s: %w", ref, date, err)
}

// preconditionFailed reports whether a conditional upload lost: the object changed (or
// exists) since it was read.
func preconditionFailed(err error) bool {
	var g *googleapi.Error
	return errors.As(err, &g) && g.Code == http.StatusPreconditionFailed
}

func metadata(rec Record) map[string]string {
	m := map[string]string{
		MetaState:    string(rec.State),
		MetaAttempts: strconv.Itoa(rec.Attempts),
		MetaRows:     strconv.FormatInt(rec.Output.TotalRows(), 10),
		MetaEmitted:  strconv.FormatBool(rec.Emitted),
		MetaUpdated:  rec.Updated.UTC().Format(time.RFC3339Nano),
	}
	if n := len(rec.Output.Objects); n > 0 {
		m[MetaObjects] = strconv.Itoa(n)
	}
	if rec.RunID != "" {
		m[MetaRunID] = rec.RunID
	}
	if rec.LastError != "" {
		m[MetaLastError] = truncate(rec.LastError, maxMetaError)
	}
	if rec.Reason != "" {
		m[MetaReason] = rec.Reason
	}
	if rec.Lease != nil {
		m[MetaLeaseOwner] = rec.Lease.Owner
		m[MetaLeaseExpires] = rec.Lease.Expires.UTC().Format(time.RFC3339Nano)
	}
	if len(rec.Missing) > 0 {
		m[MetaMissing] = strings.Join(rec.Missing, ",")
	}
	if len(rec.Output.Missing) > 0 {
		m[MetaIncomplete] = truncate(strings.Join(rec.Output.Missing, ","), maxMetaError)
	}
	if len(rec.Awaiting) > 0 {
		m[MetaAwaiting] = strings.Join(rec.Awaiting, ",")
		m[MetaAwaitingFrom] = rec.AwaitingSince.UTC().Format(time.RFC3339Nano)
	}
	if !rec.Redriven.IsZero() {
		m[MetaRedriven] = rec.Redriven.UTC().Format(time.RFC3339Nano)
	}
	return m
}

// Extend pushes the lease of a record this consumer holds (read or written at generation)
// to now+ttl. ErrConflict means the record moved: the lease was lost and the run's result
// must not be recorded.
func (l *Ledger) Extend(ctx context.Context, rec Record, generation int64, ttl time.Duration) (Record, int64, error) {
	rec = rec.Extend(ttl, l.now())
	gen, err := l.Write(ctx, rec, generation)
	if err != nil {
		return Record{}, 0, err
	}
	return rec, gen, nil
}

// Summary is one row of a status grid, read from object metadata without the body.
type Summary struct {
	Phase        messages.Phase
	Job          string
	Date         string
	State        State
	Attempts     int
	Rows         int64
	Objects      int // GCS objects of the output (a scraper's raw files)
	Emitted      bool
	RunID        string
	LastError    string // truncated; Get has the full text
	Reason       string
	Updated      time.Time
	LeaseOwner   string
	LeaseExpires time.Time
	// Missing and Awaiting are the hard and soft upstreams ("phase/job") a waiting record
	// waits for, as it was written; AwaitingSince is when its soft wait began.
	Missing, Awaiting []string
	AwaitingSince     time.Time
	// Incomplete names what a partial output lacks (possibly cut short).
	Incomplete []string
	Redriven   time.Time
	Generation int64
	// TraceID is the trace of the last write, when traces were recorded.
	TraceID string
}

// Stalled reports whether the record is running under a lease that lapsed at now: the
// consumer that ran it is gone, and the reconciler re-sends it.
func (s Summary) Stalled(now time.Time) bool {
	return s.State == StateRunning && !s.LeaseExpires.IsZero() && !now.Before(s.LeaseExpires)
}

// Ref is the job of the summary.
func (s Summary) Ref() messages.JobRef { return messages.Ref(s.Phase, s.Job) }

// List returns the summaries of ref's records for dates in [from, to] (either may be "" for
// unbounded), in date order, with one paged listing that reads metadata only.
func (l *Ledger) List(ctx context.Context, ref messages.JobRef, from, to string) ([]Summary, error) {
	ctx, span := l.tel.start(ctx, "ledger.list", ref, "")
	out, err := l.list(ctx, ref, from, to)
	span.SetAttributes(attribute.String("pipeline.from", from), attribute.String("pipeline.to", to), attribute.Int("pipeline.records", len(out)))
	span.end(err, false)
	return out, err
}

// listSideBySide is how many jobs ListJobs lists at once: each listing is a few round trips
// of up to 1,000 records, mostly waiting.
const listSideBySide = 8

// ListJobs is List for several jobs over the same dates, the jobs listed side by side; a job
// named twice is listed once. A failed listing fails the call, naming its job.
func (l *Ledger) ListJobs(ctx context.Context, refs []messages.JobRef, from, to string) (map[messages.JobRef][]Summary, error) {
	out := make(map[messages.JobRef][]Summary, len(refs))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(listSideBySide)
	seen := make(map[messages.JobRef]bool, len(refs))
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		g.Go(func() error {
			sums, err := l.List(gctx, ref, from, to)
			if err != nil {
				return fmt.Errorf("ledger of %s: %w", ref, err)
			}
			mu.Lock()
			out[ref] = sums
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func (l *Ledger) list(ctx context.Context, ref messages.JobRef, from, to string) ([]Summary, error) {
	if _, err := messages.ParseJobRef(ref.String()); err != nil {
		return nil, fmt.Errorf("ledger list: %w", err)
	}
	for _, d := range []string{from, to} {
		if d == "" {
			continue
		}
		if _, err := messages.ParseDate(d); err != nil {
			return nil, fmt.Errorf("ledger list %s: %w", ref, err)
		}
	}
	prefix := Prefix + string(ref.Phase) + "/" + ref.Job + "/"
	q := &storage.Query{Prefix: prefix}
	if from != "" {
		q.StartOffset = prefix + from
	}
	if to != "" {
		// "/" sorts right after ".", so <to>.json is inside and nothing of a later date is.
		q.EndOffset = prefix + to + "/"
	}
	if err := q.SetAttrSelection([]string{"Name", "Generation", "Metadata"}); err != nil {
		return nil, fmt.Errorf("ledger list %s: %w", ref, err)
	}
	var out []Summary
	it := l.bucket.Objects(ctx, q)
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("ledger list %s in bucket %s: %w", ref, l.name, err)
		}
		date, ok := strings.CutSuffix(strings.TrimPrefix(a.Name, prefix), ".json")
		if !ok || strings.Contains(date, "/") {
			continue
		}
		out = append(out, summary(ref, date, a.Generation, a.Metadata))
	}
	return out, nil
}

func summary(ref messages.JobRef, date string, gen int64, m map[string]string) Summary {
	s := Summary{
		Phase: ref.Phase, Job: ref.Job, Date: date, Generation: gen,
		State:      State(m[MetaState]),
		RunID:      m[MetaRunID],
		LastError:  m[MetaLastError],
		Reason:     m[MetaReason],
		LeaseOwner: m[MetaLeaseOwner],
		TraceID:    m[MetaTraceID],
	}
	s.Attempts, _ = strconv.Atoi(m[MetaAttempts])
	s.Rows, _ = strconv.ParseInt(m[MetaRows], 10, 64)
	s.Objects, _ = strconv.Atoi(m[MetaObjects])
	s.Emitted, _ = strconv.ParseBool(m[MetaEmitted])
	s.Updated, _ = time.Parse(time.RFC3339Nano, m[MetaUpdated])
	s.LeaseExpires, _ = time.Parse(time.RFC3339Nano, m[MetaLeaseExpires])
	s.Missing, s.Awaiting = splitList(m[MetaMissing]), splitList(m[MetaAwaiting])
	s.Incomplete = splitList(m[MetaIncomplete])
	s.AwaitingSince, _ = time.Parse(time.RFC3339Nano, m[MetaAwaitingFrom])
	s.Redriven, _ = time.Parse(time.RFC3339Nano, m[MetaRedriven])
	return s
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
