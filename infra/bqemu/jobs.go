package bqemu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	bq "google.golang.org/api/bigquery/v2"

	"github.com/nba-props/pipeline/infra/internal/deflate"
)

// jobRecord is a job, finished or running. The record is never mutated after it is
// stored: dropping its results or packing it stores a new one.
type jobRecord struct {
	// job is the job as it finished (or its pending form while it runs); nil once the
	// record is packed.
	job    *bq.Job
	result *resultSet // query jobs only
	// params are a query job's parameters as DEFLATE-compressed JSON, kept apart from job
	// (whose parameters are nil): decoded, a registry's array of structs is a tree of maps,
	// and a long run keeps every job; as JSON a season's jobs held 24 MB of them, the
	// repeated field names most of it. view puts them back.
	params []byte
	// packed is the whole job as the API shows it (parameters included), DEFLATE-compressed
	// JSON, once it has been finished for packAge: job and params are then nil.
	packed []byte
	// created is the job's creation time (Unix milliseconds), what jobs.list filters on.
	created int64
	// expired says the rows were dropped to keep within Options.ResultMemory; result keeps
	// the rest (schema, row count), so waiting for the job still works as on BigQuery,
	// where a redelivered message attaches to its job and waits for it however late.
	expired bool
}

// resultSet is a query job's result, kept in memory and encoded at read time.
type resultSet struct {
	schema      []*bq.TableFieldSchema // nil for DDL/DML
	rows        [][]any
	dmlAffected *int64
	size        int64 // estimated bytes held
	// dropped is how many rows the results had before they expired (rows is then nil).
	dropped int
	// read says the last page was served: a client has read the results to the end.
	read atomic.Bool
	// touched is when the results were stored or a page of them last served (Unix
	// nanoseconds on the server's clock).
	touched atomic.Int64
}

// resultGrace is how long results are kept whatever the memory they take after they were
// stored or a page of them was last served, unless a client has read them to the end: a
// client reads the first page right after its job ends and each next page right after the
// one before. Past it and over the budget, results nobody is reading go: a season's
// analytics jobs write their results to their tables and never read them back, and with a
// minute counted from the job those held about a third of the local stack's live heap.
const resultGrace = 10 * time.Second

// errResultsExpired is what reading the rows of a job whose results were dropped returns.
func errResultsExpired(id string, limit int64) error {
	return errNotFound("Not found: the results of job %s expired: the emulator keeps at most %d MiB of query results and dropped the oldest (Options.ResultMemory)", id, limit>>20)
}

// requestError marks a failure of the request itself (malformed job, missing dataset); it is
// returned as an HTTP error and no job is registered. Any other error fails the job.
type requestError struct{ err *apiError }

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

var jobIDRe = regexp.MustCompile(`^[A-Za-z0-9_\-]+$`)

func newJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// jobInput is the raw part of a job request that the bq structs cannot represent
// (parameter values that are JSON null).
type jobInput struct {
	Configuration struct {
		Query struct {
			QueryParameters []*queryParam `json:"queryParameters"`
		} `json:"query"`
	} `json:"configuration"`
}

func (s *Server) insertJob(r *http.Request) (any, error) {
	raw, err := decodeBody(r, &json.RawMessage{})
	if err != nil {
		return nil, err
	}
	if raw, err = normalizeParamValues(raw, "configuration", "query", "queryParameters"); err != nil {
		return nil, err
	}
	var job bq.Job
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &job); err != nil {
			return nil, errInvalid("Invalid JSON payload received: %v", err)
		}
	}
	return s.runJob(r.Context(), r.PathValue("p"), &job, raw, nil)
}

// runJob validates, reserves the id, executes synchronously and stores a job.
func (s *Server) runJob(reqCtx context.Context, p string, job *bq.Job, raw []byte, media io.Reader) (*bq.Job, error) {
	done, _, err := s.execJob(reqCtx, p, job, raw, media)
	return done, err
}

// execJob is runJob that also returns a query job's result as it ran: what is stored may
// be dropped (Options.ResultMemory) before the caller reads it.
func (s *Server) execJob(reqCtx context.Context, p string, job *bq.Job, raw []byte, media io.Reader) (*bq.Job, *resultSet, error) {
	ctx := context.WithoutCancel(reqCtx)
	if job.Configuration == nil {
		return nil, nil, errInvalid("Required parameter is missing: configuration")
	}
	var in jobInput
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, nil, errInvalid("Invalid JSON payload received: %v", err)
		}
	}
	c := job.Configuration
	kinds := 0
	for _, set := range []bool{c.Query != nil, c.Load != nil, c.Copy != nil, c.Extract != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return nil, nil, errInvalid("Job configuration must set exactly one of query, load, copy or extract")
	}
	if c.Copy != nil || c.Extract != nil {
		return nil, nil, errInvalid("Emulator: copy and extract jobs are not supported")
	}
	if c.DryRun {
		return nil, nil, errInvalid("Emulator: dry-run jobs are not supported")
	}
	if media != nil && c.Load == nil {
		return nil, nil, errInvalid("An upload must carry a load job configuration")
	}
	ref := job.JobReference
	if ref == nil {
		ref = &bq.JobReference{}
	}
	jr := *ref
	jr.ProjectId = p
	if jr.JobId == "" {
		jr.JobId = newJobID()
	}
	if !jobIDRe.MatchString(jr.JobId) || len(jr.JobId) > 1024 {
		return nil, nil, errInvalid("Invalid job ID %q. Job IDs must be alphanumeric (plus underscores and dashes) and must be at most 1024 characters long.", jr.JobId)
	}
	if jr.Location == "" {
		jr.Location = s.opts.DefaultLocation
	}
	job.JobReference = &jr
	if err := s.reserveJob(ctx, p, jr); err != nil {
		return nil, nil, err
	}
	start := s.now()
	job.Kind = "bigquery#job"
	job.Id = p + ":" + jr.Location + "." + jr.JobId
	job.SelfLink = "/projects/" + p + "/jobs/" + jr.JobId
	job.UserEmail = "emulator@local"
	job.Statistics = &bq.JobStatistics{CreationTime: msString(start), StartTime: msString(start)}
	var result *resultSet
	var runErr error
	var warnings []*bq.ErrorProto
	// A CPU profile of the emulator's process says which table's jobs the time went to
	// (the job's "table" label, as the pipeline's jobs set it).
	kind := "load"
	if c.Query != nil {
		kind = "query"
	}
	pprof.Do(ctx, pprof.Labels("bq_kind", kind, "bq_table", c.Labels["table"]), func(ctx context.Context) {
		if c.Query != nil {
			result, runErr = s.runQueryJob(ctx, p, job, in.Configuration.Query.QueryParameters)
		} else {
			warnings, runErr = s.runLoadJob(ctx, p, job, media)
		}
	})
	var re *requestError
	if errors.As(runErr, &re) {
		s.releaseJob(p, jr.JobId)
		return nil, nil, re.err
	}
	job.Statistics.EndTime = msString(s.now())
	job.Status = &bq.JobStatus{State: "DONE", Errors: warnings}
	if runErr != nil {
		ep := errorProto(runErr)
		job.Status.ErrorResult = ep
		job.Status.Errors = append([]*bq.ErrorProto{ep}, warnings...)
	}
	sendZeros(job)
	s.storeJob(p, compactJob(job, result, s.now()))
	return job, result, nil
}

func (s *Server) reserveJob(ctx context.Context, p string, jr bq.JobReference) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, err := s.projectLocked(ctx, p)
	if err != nil {
		return err
	}
	if _, ok := pr.jobs[jr.JobId]; ok {
		return errDuplicate("Already Exists: Job %s:%s.%s", p, jr.Location, jr.JobId)
	}
	pending := &bq.Job{Kind: "bigquery#job", JobReference: &jr, Status: &bq.JobStatus{State: "RUNNING"},
		Id: p + ":" + jr.Location + "." + jr.JobId, Statistics: &bq.JobStatistics{CreationTime: msString(s.now())}}
	pr.jobs[jr.JobId] = &jobRecord{job: pending, created: pending.Statistics.CreationTime}
	pr.jobOrder = append(pr.jobOrder, jr.JobId)
	return nil
}

func (s *Server) releaseJob(p, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := s.projects[p]
	delete(pr.jobs, id)
	for i, j := range pr.jobOrder {
		if j == id {
			pr.jobOrder = append(pr.jobOrder[:i], pr.jobOrder[i+1:]...)
			if i < pr.packedTo {
				pr.packedTo--
			}
			break
		}
	}
}

// jobsPerPage is the jobs.list page size when the request sets no maxResults.
const jobsPerPage = 1000

// maxJobs bounds the jobs kept per project (with their results); the oldest go first.
const maxJobs = 20000

func (s *Server) storeJob(p string, rec *jobRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := s.projects[p]
	id := rec.job.JobReference.JobId
	pr.resultBytes += rec.bytes() - pr.jobs[id].bytes()
	pr.jobs[id] = rec
	if n := len(pr.jobOrder) - maxJobs; n > 0 {
		for _, id := range pr.jobOrder[:n] {
			pr.resultBytes -= pr.jobs[id].bytes()
			delete(pr.jobs, id)
		}
		pr.jobOrder = slices.Clone(pr.jobOrder[n:])
		pr.packedTo = max(0, pr.packedTo-n)
	}
	// Past the budget, drop the results of the oldest jobs out of their grace period.
	now := s.now()
	for _, id := range pr.jobOrder {
		if pr.resultBytes <= s.opts.ResultMemory {
			break
		}
		old := pr.jobs[id]
		if old.result == nil || len(old.result.rows) == 0 || (!old.result.read.Load() && now.Sub(time.Unix(0, old.result.touched.Load())) < resultGrace) {
			continue
		}
		pr.resultBytes -= old.bytes()
		husked := *old
		husked.result = &resultSet{schema: old.result.schema, dmlAffected: old.result.dmlAffected, dropped: old.result.rowCount()}
		husked.expired = true
		pr.jobs[id] = &husked
	}
	// Pack the oldest jobs finished for packAge, in order, up to the first that is not.
	for ; pr.packedTo < len(pr.jobOrder); pr.packedTo++ {
		id := pr.jobOrder[pr.packedTo]
		old := pr.jobs[id]
		if old.packed != nil {
			continue
		}
		if jobState(old.job) != "DONE" || now.Sub(time.UnixMilli(old.job.Statistics.EndTime)) < packAge {
			break
		}
		packed, err := old.pack()
		if err != nil {
			// A job that does not encode stays as it is; the next ones are still packed.
			continue
		}
		pr.jobs[id] = packed
	}
}

// packAge is how long a finished job stays unpacked: a client waits for its job and reads
// the first page of results right after it ends, each read decoding the job from its
// record, and a season's jobs, kept whole, held about a fifth of the emulator's live heap
// (every job a tree of some twenty structs).
const packAge = 10 * time.Second

// jobState is the job's state as jobs.list reports it.
func jobState(j *bq.Job) string {
	if j.Status != nil {
		return j.Status.State
	}
	return "DONE"
}

// state is the job's state; only a finished job is packed.
func (r *jobRecord) state() string {
	if r.packed != nil {
		return "DONE"
	}
	return jobState(r.job)
}

// compactJob is the record of a finished job, its query parameters kept as compressed JSON
// (a job whose parameters do not encode keeps them as they are).
func compactJob(job *bq.Job, result *resultSet, now time.Time) *jobRecord {
	rec := &jobRecord{job: job, result: result, created: job.Statistics.CreationTime}
	if result != nil {
		result.touched.Store(now.UnixNano())
	}
	if q := job.Configuration.Query; q != nil && len(q.QueryParameters) > 0 {
		if params, err := json.Marshal(q.QueryParameters); err == nil {
			rec.job, rec.params = withParams(job, nil), jobCodec.Compress(params)
		}
	}
	if q := rec.job.Configuration.Query; q != nil {
		q.Query = queryTexts.share(q.Query, q.Query)
	}
	return rec
}

// queryTexts are the query texts of the jobs kept. A pipeline runs the same few dozen
// statements for every date, with other parameters, and each request decodes a copy of
// its text: a season's kept jobs held several megabytes of the same texts.
var queryTexts = newShared[string]()

// jobCodec compresses what a kept job holds as JSON: its query parameters, or all of it
// once packed.
var jobCodec = deflate.New(nil)

// view is the job as the API shows it, query parameters included.
func (r *jobRecord) view() (*bq.Job, error) {
	if r.packed != nil {
		return r.unpack()
	}
	if len(r.params) == 0 {
		return r.job, nil
	}
	var params []*bq.QueryParameter
	if err := inflateJSON(r.params, &params); err != nil {
		return nil, fmt.Errorf("job %s: its stored query parameters: %w", r.job.JobReference.JobId, err)
	}
	return withParams(r.job, params), nil
}

// stored is the job without its query parameters where the record keeps them apart: what
// reading its status and results needs.
func (r *jobRecord) stored() (*bq.Job, error) {
	if r.packed != nil {
		return r.unpack()
	}
	return r.job, nil
}

// pack is the record with its job packed: its view as compressed JSON.
func (r *jobRecord) pack() (*jobRecord, error) {
	j, err := r.view()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	packed := *r
	packed.job, packed.params, packed.packed = nil, nil, jobCodec.Compress(b)
	return &packed, nil
}

// unpack decodes a packed job. Decoding leaves the fields sent even when zero unmarked;
// sendZeros marks them as they were when the job finished.
func (r *jobRecord) unpack() (*bq.Job, error) {
	var j bq.Job
	if err := inflateJSON(r.packed, &j); err != nil {
		return nil, fmt.Errorf("a stored job: %w", err)
	}
	sendZeros(&j)
	return &j, nil
}

// inflateJSON decodes JSON compressed by jobCodec into v.
func inflateJSON(b []byte, v any) error {
	plain, err := jobCodec.Expand(b, 0)
	if err != nil {
		return err
	}
	return json.Unmarshal(plain, v)
}

// sendZeros marks the fields of a finished job that BigQuery sends even when they are
// zero (the API's Go types leave out a zero field not named in its ForceSendFields): the
// query statistics' bytes and cache hit, a DML statement's row counts, a load's counts.
// A job is marked when it finishes, and again when it is decoded from its packed record.
func sendZeros(j *bq.Job) {
	if c := j.Configuration; c != nil && c.Query != nil {
		c.Query.ForceSendFields = append(c.Query.ForceSendFields, "UseLegacySql")
	}
	st := j.Statistics
	if st == nil {
		return
	}
	if q := st.Query; q != nil {
		q.ForceSendFields = append(q.ForceSendFields, "TotalBytesProcessed", "CacheHit")
		if q.DmlStats != nil {
			q.ForceSendFields = append(q.ForceSendFields, "NumDmlAffectedRows")
			q.DmlStats.ForceSendFields = append(q.DmlStats.ForceSendFields, "InsertedRowCount", "DeletedRowCount", "UpdatedRowCount")
		}
	}
	if l := st.Load; l != nil {
		l.ForceSendFields = append(l.ForceSendFields, "InputFiles", "InputFileBytes", "OutputRows", "OutputBytes", "BadRecords")
	}
}

// withParams is a copy of the query job with its parameters replaced; job is unchanged.
func withParams(job *bq.Job, params []*bq.QueryParameter) *bq.Job {
	j, c, q := *job, *job.Configuration, *job.Configuration.Query
	q.QueryParameters = params
	c.Query = &q
	j.Configuration = &c
	return &j
}

// bytes is the estimated memory of the job's results (0 for none).
func (r *jobRecord) bytes() int64 {
	if r == nil || r.result == nil {
		return 0
	}
	return r.result.size
}

// rowCount is how many rows the query returned, kept or dropped.
func (r *resultSet) rowCount() int { return len(r.rows) + r.dropped }

func (s *Server) lookupJob(ctx context.Context, p, id string) (*jobRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, err := s.projectLocked(ctx, p)
	if err != nil {
		return nil, err
	}
	rec, ok := pr.jobs[id]
	if !ok {
		return nil, errNotFound("Not found: Job %s:%s.%s", p, s.opts.DefaultLocation, id)
	}
	return rec, nil
}

func (s *Server) getJob(r *http.Request) (any, error) {
	rec, err := s.lookupJob(r.Context(), r.PathValue("p"), r.PathValue("j"))
	if err != nil {
		return nil, err
	}
	return rec.view()
}

func (s *Server) cancelJob(r *http.Request) (any, error) {
	rec, err := s.lookupJob(r.Context(), r.PathValue("p"), r.PathValue("j"))
	if err != nil {
		return nil, err
	}
	j, err := rec.view()
	if err != nil {
		return nil, err
	}
	return &bq.JobCancelResponse{Kind: "bigquery#jobCancelResponse", Job: j}, nil
}

func (s *Server) deleteJob(r *http.Request) (any, error) {
	p, id := r.PathValue("p"), r.PathValue("j")
	if _, err := s.lookupJob(r.Context(), p, id); err != nil {
		return nil, err
	}
	s.releaseJob(p, id)
	return noContent{}, nil
}

func (s *Server) listJobs(r *http.Request) (any, error) {
	q := r.URL.Query()
	var minT, maxT int64
	if v := q.Get("minCreationTime"); v != "" {
		minT, _ = strconv.ParseInt(v, 10, 64)
	}
	if v := q.Get("maxCreationTime"); v != "" {
		maxT, _ = strconv.ParseInt(v, 10, 64)
	}
	states := map[string]bool{}
	for _, st := range q["stateFilter"] {
		states[st] = true
	}
	s.mu.Lock()
	pr, err := s.projectLocked(r.Context(), r.PathValue("p"))
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	var all []*jobRecord
	for i := len(pr.jobOrder) - 1; i >= 0; i-- {
		rec := pr.jobs[pr.jobOrder[i]]
		if len(states) > 0 && !states[map[string]string{"DONE": "done", "RUNNING": "running", "PENDING": "pending"}[rec.state()]] {
			continue
		}
		if ct := rec.created; (minT > 0 && ct < minT) || (maxT > 0 && ct > maxT) {
			continue
		}
		all = append(all, rec)
	}
	s.mu.Unlock()
	// The service pages long lists; so does the emulator, so that a long run's listing
	// (every job with its configuration and parameters) is never one giant response.
	recs, next, err := pageSlice(all, r, jobsPerPage)
	if err != nil {
		return nil, err
	}
	page := make([]*bq.JobListJobs, len(recs))
	for i, rec := range recs {
		j, err := rec.view()
		if err != nil {
			return nil, err
		}
		e := &bq.JobListJobs{Kind: "bigquery#job", Id: j.Id, JobReference: j.JobReference, State: jobState(j),
			Status: j.Status, Configuration: j.Configuration, Statistics: j.Statistics, UserEmail: j.UserEmail}
		if j.Status != nil {
			e.ErrorResult = j.Status.ErrorResult
		}
		page[i] = e
	}
	return &bq.JobList{Kind: "bigquery#jobList", Jobs: page, NextPageToken: next, Etag: "0"}, nil
}

// getQueryResultsResponse mirrors bq.GetQueryResultsResponse with our own cell encoding.
type getQueryResultsResponse struct {
	Kind                string            `json:"kind"`
	JobReference        *bq.JobReference  `json:"jobReference"`
	Schema              *bq.TableSchema   `json:"schema,omitempty"`
	Rows                []row             `json:"rows,omitempty"`
	TotalRows           string            `json:"totalRows"`
	PageToken           string            `json:"pageToken,omitempty"`
	JobComplete         bool              `json:"jobComplete"`
	TotalBytesProcessed string            `json:"totalBytesProcessed"`
	CacheHit            bool              `json:"cacheHit"`
	NumDmlAffectedRows  string            `json:"numDmlAffectedRows,omitempty"`
	DmlStats            *bq.DmlStatistics `json:"dmlStats,omitempty"`
	Errors              []*bq.ErrorProto  `json:"errors,omitempty"`
}

func (s *Server) getQueryResults(r *http.Request) (any, error) {
	rec, err := s.lookupJob(r.Context(), r.PathValue("p"), r.PathValue("j"))
	if err != nil {
		return nil, err
	}
	job, err := rec.stored()
	if err != nil {
		return nil, err
	}
	if job.Status == nil || job.Status.State != "DONE" {
		return &getQueryResultsResponse{Kind: "bigquery#getQueryResultsResponse", JobReference: job.JobReference, TotalRows: "0", TotalBytesProcessed: "0"}, nil
	}
	if job.Status.ErrorResult != nil {
		return nil, errorFromProto(job.Status.ErrorResult)
	}
	if rec.result == nil {
		return nil, errInvalid("Job %s is not a query job", job.JobReference.JobId)
	}
	q := r.URL.Query()
	start := 0
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			return nil, errInvalid("Invalid startIndex %q", v)
		}
		start = int(n)
	}
	if tok := q.Get("pageToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			return nil, errInvalid("Invalid page token %q", tok)
		}
		start = n
	}
	limit := -1
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, errInvalid("Invalid maxResults %q", v)
		}
		limit = n
	}
	if rec.expired && limit != 0 && start < rec.result.rowCount() {
		// Waiting (maxResults=0) still answers: only reading rows needs them.
		return nil, errResultsExpired(job.JobReference.JobId, s.opts.ResultMemory)
	}
	return s.resultPage(job, rec.result, start, limit, q.Get("formatOptions.useInt64Timestamp") == "true"), nil
}

// resultPage encodes rows [start, start+limit) of a result (limit < 0: up to MaxPageRows).
func (s *Server) resultPage(job *bq.Job, res *resultSet, start, limit int, int64TS bool) *getQueryResultsResponse {
	out := &getQueryResultsResponse{
		Kind: "bigquery#getQueryResultsResponse", JobReference: job.JobReference, JobComplete: true,
		TotalBytesProcessed: "0", TotalRows: strconv.Itoa(res.rowCount()),
	}
	if res.schema != nil {
		out.Schema = &bq.TableSchema{Fields: res.schema}
	}
	if res.dmlAffected != nil {
		out.NumDmlAffectedRows = strconv.FormatInt(*res.dmlAffected, 10)
		if job.Statistics != nil && job.Statistics.Query != nil {
			out.DmlStats = job.Statistics.Query.DmlStats
		}
	}
	if limit < 0 || limit > s.opts.MaxPageRows {
		limit = s.opts.MaxPageRows
	}
	if start > len(res.rows) {
		start = len(res.rows)
	}
	end := min(start+limit, len(res.rows))
	out.Rows = make([]row, 0, end-start)
	for _, vals := range res.rows[start:end] {
		out.Rows = append(out.Rows, encodeRow(res.schema, vals, int64TS))
	}
	if end < len(res.rows) {
		out.PageToken = strconv.Itoa(end)
	} else {
		res.read.Store(true)
	}
	res.touched.Store(s.now().UnixNano())
	return out
}
