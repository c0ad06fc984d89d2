package raw_test

// Failure classes of docs/lessons.md with the real raw jobs loading into the BigQuery
// emulator, most of them run through the consumer runtime (Pub/Sub emulator, GCS ledger).
// There the scraper upstream is a stand-in that writes the leaguegamelog object the test
// chooses, so that the input can be emptied and refilled.

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"cloud.google.com/go/pubsub/v2"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/raw"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/infra/warehousetest"
	"github.com/nba-props/pipeline/messages"
)

var (
	scrapeBox = messages.Ref(messages.PhaseScrapers, "nbac_player_boxscores")
	rawBox    = messages.Ref(messages.PhaseRaw, "nbac_player_boxscores")
)

// lessonEnv is one pipeline slice: Pub/Sub with the declared topology, GCS holding the ledger
// and the scraper objects, the BigQuery emulator with every table, the stand-in scraper and
// the real raw job, whose BigQuery client goes through lost (answers it can be told to lose).
type lessonEnv struct {
	*warehousetest.Env
	t     *testing.T
	em    *emulators.Env
	cat   *messages.Catalog
	led   *ledger.Ledger
	lost  *lostAnswers
	jobs  map[string]runner.Job // raw jobs on the client behind lost
	logs  *lockedBuffer
	full  []byte // the captured leaguegamelog
	rows  int    // its player rows
	scrMu sync.Mutex
	body  []byte // what the stand-in scraper stores next
	empty bool   // and whether it calls that an empty result
}

func newLessonEnv(t *testing.T) *lessonEnv {
	t.Helper()
	em := emulators.StartTest(t)
	host := warehousetest.StartBigQuery(t, em.Storage)
	ctx := context.Background()
	bq, err := cloud.BigQuery(ctx, em.Project, host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bq.Close() })
	lost := &lostAnswers{base: http.DefaultTransport}
	faulty, err := bigquery.NewClient(ctx, em.Project, append(cloud.BigQueryOptions(host), option.WithHTTPClient(&http.Client{Transport: lost}))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { faulty.Close() })
	cat := messages.DefaultCatalog()
	if _, err := topology.Apply(ctx, topology.Clients{PubSub: em.PubSub, BigQuery: bq},
		topology.Options{Catalog: cat, Names: em.Names, Bucket: em.Bucket}); err != nil {
		t.Fatal(err)
	}
	jobs, err := raw.Jobs(raw.Deps{Storage: em.Storage, Bucket: em.Bucket, BigQuery: faulty})
	if err != nil {
		t.Fatal(err)
	}
	captured := warehousetest.ReadDir(t, "testdata/capture/"+gameDay)
	e := &lessonEnv{
		Env: &warehousetest.Env{Project: em.Project, Bucket: em.Bucket, Storage: em.Storage, BigQuery: bq},
		t:   t, em: em, cat: cat, led: ledger.New(em.Storage, em.Bucket, ledger.Options{}),
		lost: lost, jobs: jobs, logs: &lockedBuffer{}, full: captured[gameLogObject],
	}
	var doc struct {
		ResultSets []struct {
			RowSet []json.RawMessage `json:"rowSet"`
		} `json:"resultSets"`
	}
	if err := json.Unmarshal(e.full, &doc); err != nil || len(doc.ResultSets) == 0 {
		t.Fatalf("captured leaguegamelog: %v", err)
	}
	e.rows = len(doc.ResultSets[0].RowSet)
	if e.rows == 0 {
		t.Fatal("the captured leaguegamelog has no rows")
	}
	// The schedule of the date says games were played: it, not the source, decides whether no
	// rows is a failure.
	sched := scheduleObject(gameDay)
	e.Put(t, map[string][]byte{sched: captured[sched]})
	e.body = e.full
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("runtime log:\n%s", e.logs.String())
		}
	})
	return e
}

// emptied is the captured leaguegamelog with no player rows: an empty 200.
func (e *lessonEnv) emptied() []byte {
	var doc map[string]any
	if err := json.Unmarshal(e.full, &doc); err != nil {
		e.t.Fatal(err)
	}
	doc["resultSets"].([]any)[0].(map[string]any)["rowSet"] = []any{}
	b, err := json.Marshal(doc)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// scrapes sets what the stand-in scraper stores from now on.
func (e *lessonEnv) scrapes(body []byte, empty bool) {
	e.scrMu.Lock()
	defer e.scrMu.Unlock()
	e.body, e.empty = body, empty
}

// scraper stores the chosen leaguegamelog under its deterministic name, as the real
// scraper does (an identical body keeps its generation).
func (e *lessonEnv) scraper() runner.Job {
	return runner.JobFunc(func(ctx context.Context, req messages.Request) (runner.Result, error) {
		e.scrMu.Lock()
		body, empty := e.body, e.empty
		e.scrMu.Unlock()
		obj := e.Storage.Bucket(e.Bucket).Object(gameLogObject)
		a, err := obj.Attrs(ctx)
		if err != nil || !bytes.Equal(a.MD5, md5Of(body)) {
			w := obj.NewWriter(ctx)
			w.ChunkSize = 0
			if _, err := w.Write(body); err != nil {
				return runner.Result{}, err
			}
			if err := w.Close(); err != nil {
				return runner.Result{}, err
			}
			a = w.Attrs()
		}
		return runner.Result{Objects: []runner.Object{{Bucket: e.Bucket, Name: a.Name, Generation: a.Generation, Size: a.Size}}, Empty: empty}, nil
	})
}

// start runs one consumer of the scraper stand-in and the raw job until the test ends.
func (e *lessonEnv) start(owner string) {
	e.t.Helper()
	rt, err := runner.New(runner.Options{
		PubSub: e.em.PubSub, Storage: e.Storage, Bucket: e.Bucket, Catalog: e.cat, Names: e.em.Names,
		Jobs:  map[messages.JobRef]runner.Job{scrapeBox: e.scraper(), rawBox: e.jobs[rawBox.Job]},
		Owner: owner, Lease: 3 * time.Second, MaxAttempts: 5, Streams: 2, ShutdownGrace: 2 * time.Second,
		SoftWait: -1, PublishTimeout: 20 * time.Second, Unroutable: []messages.Phase{},
		Logger: slog.New(runner.NewLogHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run: %v", err)
		}
	})
}

// publish sends copies of a request as the producer does.
func (e *lessonEnv) publish(copies int, ref messages.JobRef) {
	e.t.Helper()
	body, attrs, err := messages.Encode(messages.Request{Version: messages.Version, Phase: ref.Phase, Job: ref.Job, Date: gameDay,
		RunID: "lessons", Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill}, e.cat)
	if err != nil {
		e.t.Fatal(err)
	}
	p := e.em.PubSub.Publisher(e.em.Names.Topic(ref.Phase))
	defer p.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range copies {
		if _, err := p.Publish(ctx, &pubsub.Message{Data: body, Attributes: attrs}).Get(ctx); err != nil {
			e.t.Fatal(err)
		}
	}
}

// wait polls the ledger record of ref until ok holds.
func (e *lessonEnv) wait(ref messages.JobRef, what string, ok func(ledger.Record) bool) ledger.Record {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		rec, _, err := e.led.Get(context.Background(), ref, gameDay)
		if err == nil && ok(rec) {
			return rec
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s %s: still waiting for %s; last record %s attempts=%d err=%q (%v)", ref, gameDay, what, rec.State, rec.Attempts, rec.LastError, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settled waits until every message to the two jobs on the scrapers and raw topics has been
// acked (the raw topic also carries requests to the raw jobs that read the box scores, which
// these tests do not serve).
func (e *lessonEnv) settled() {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		open := 0
		for _, m := range e.em.PubSubServer.Server.Messages() {
			served := m.Attributes[messages.AttrJob] == scrapeBox.Job
			if (strings.HasSuffix(m.Topic, "/"+e.em.Names.Topic(messages.PhaseScrapers)) ||
				strings.HasSuffix(m.Topic, "/"+e.em.Names.Topic(messages.PhaseRaw))) && served && m.Acks == 0 {
				open++
			}
		}
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d messages never acked", open)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// partition is the raw table's partition of the game day, processed_at included: a reload
// would change it.
func (e *lessonEnv) partition() []map[string]any {
	e.t.Helper()
	return e.Query(e.t, "SELECT * FROM nba_raw.nbac_player_boxscores WHERE game_date = @d ORDER BY source_player_id, game_id",
		map[string]any{"d": mustCivil(e.t, gameDay)})
}

// TestLessonEmptyScrapeThenFull (empty is not done; an empty 200 on a game day is a
// failure): a scrape that stored an empty 200 on a
// date the schedule says had games, and called it done, is not a success downstream: the raw
// job ends dead with the reason, the partition is empty and the date is not locked. The next
// scrape with rows loads the full partition, and the raw record shows two runs on two
// distinct inputs.
func TestLessonEmptyScrapeThenFull(t *testing.T) {
	t.Parallel()
	e := newLessonEnv(t)
	e.scrapes(e.emptied(), true)
	e.start("consumer-a")

	e.publish(1, scrapeBox)
	dead := e.wait(rawBox, "dead on the empty input", func(r ledger.Record) bool { return r.State == ledger.StateDead })
	if !strings.Contains(dead.LastError, raw.ErrEmptyInput.Error()) || dead.Reason != runner.ReasonJobError {
		t.Errorf("raw record after the empty scrape: reason %q, error %q; want job_error naming %q", dead.Reason, dead.LastError, raw.ErrEmptyInput)
	}
	if rows := e.partition(); len(rows) != 0 {
		t.Errorf("%d rows in the partition after an empty scrape", len(rows))
	}

	// The games' rows arrive; a new request (no force) re-scrapes, since an empty scrape is
	// never final, and the raw job runs on the new input.
	e.scrapes(e.full, false)
	e.publish(1, scrapeBox)
	ok := e.wait(rawBox, "succeeded on the full input", func(r ledger.Record) bool { return r.State == ledger.StateSucceeded })
	if n := len(e.partition()); n != e.rows || ok.Output.TotalRows() != int64(e.rows) {
		t.Errorf("after the full scrape: %d rows in the partition, %d recorded; want %d", n, ok.Output.TotalRows(), e.rows)
	}
	var got []string
	for _, h := range ok.History {
		got = append(got, fmt.Sprintf("%s rows=%d", h.State, h.Rows))
	}
	if diff := cmp.Diff([]string{"dead rows=0", fmt.Sprintf("succeeded rows=%d", e.rows)}, got); diff != "" {
		t.Errorf("raw history (-want +got):\n%s", diff)
	}
	if len(ok.History) == 2 && (ok.History[0].InputFingerprint == ok.History[1].InputFingerprint || ok.History[0].InputFingerprint == "") {
		t.Errorf("raw history inputs %q and %q, want two distinct inputs", ok.History[0].InputFingerprint, ok.History[1].InputFingerprint)
	}
}

// TestLessonTripleDeliveryTwoTriggers (redelivery adds nothing): every request delivered three times, both
// from the producer and from the upstream's completion, and then all of it again: the
// partition keeps exactly the source's rows, loaded by one load job.
func TestLessonTripleDeliveryTwoTriggers(t *testing.T) {
	t.Parallel()
	e := newLessonEnv(t)
	e.start("consumer-a")
	e.publish(3, scrapeBox)
	e.publish(3, rawBox) // the producer asks the raw job directly as well
	e.wait(rawBox, "succeeded", func(r ledger.Record) bool { return r.State == ledger.StateSucceeded && r.Emitted })
	e.settled()
	first := e.partition()
	if len(first) != e.rows {
		t.Fatalf("%d rows after triple delivery through two triggers, want %d", len(first), e.rows)
	}

	e.publish(3, scrapeBox)
	e.publish(3, rawBox)
	e.settled()
	if diff := cmp.Diff(first, e.partition()); diff != "" {
		t.Errorf("redelivery changed the partition (-before +after):\n%s", diff)
	}
	if n := loadJobs(t, e.Env, rawBox.Job); n != 1 {
		t.Errorf("%d load jobs for one input delivered 12 times, want 1", n)
	}
	rec, _, err := e.led.Get(context.Background(), rawBox, gameDay)
	if err != nil || len(rec.History) != 1 || rec.Attempts != 1 {
		t.Errorf("raw record: %d runs in history, %d attempts (%v); want one run", len(rec.History), rec.Attempts, err)
	}
}

// TestLessonLoadCommittedThenAnswerLost (a committed write is never redone): the load job commits but the consumer
// never hears so (the insert's answer, or the status read, is lost on the wire). The run
// fails, the redelivery runs the job again under the same deterministic job id, attaches to
// the committed load, and the partition holds each row once.
func TestLessonLoadCommittedThenAnswerLost(t *testing.T) {
	t.Parallel()
	for _, lose := range []string{"insert", "status"} {
		t.Run(lose, func(t *testing.T) {
			t.Parallel()
			e := newLessonEnv(t)
			e.lost.arm(lose)
			e.start("consumer-a")
			e.publish(1, scrapeBox)
			rec := e.wait(rawBox, "succeeded", func(r ledger.Record) bool { return r.State == ledger.StateSucceeded })
			if n := e.lost.cut.Load(); n != 1 {
				t.Fatalf("%d answers lost, want 1: the fault never hit", n)
			}
			if rec.Attempts != 2 {
				t.Errorf("raw record: %d attempts, want 2 (the lost answer, then the attach)", rec.Attempts)
			}
			if n := len(e.partition()); n != e.rows || rec.Output.TotalRows() != int64(e.rows) {
				t.Errorf("%d rows in the partition, %d recorded; want %d (no duplicates)", n, rec.Output.TotalRows(), e.rows)
			}
			if n := loadJobs(t, e.Env, rawBox.Job); n != 1 {
				t.Errorf("%d load jobs, want 1: the retry must attach to the committed one", n)
			}
		})
	}
}

// TestLessonTwoConsumersOneDate (a committed write is never redone): two consumers receive
// copies of the same requests and one load job runs. Then, without the ledger, two runs
// submit the load of an input nobody loaded yet at the same instant (both inserts are held
// until both have been sent): BigQuery accepts one, the other run attaches to it, and the
// partition holds each row once.
func TestLessonTwoConsumersOneDate(t *testing.T) {
	t.Parallel()
	e := newLessonEnv(t)
	e.start("consumer-a")
	e.start("consumer-b")
	e.publish(3, scrapeBox)
	e.publish(3, rawBox)
	e.wait(rawBox, "succeeded", func(r ledger.Record) bool { return r.State == ledger.StateSucceeded && r.Emitted })
	e.settled()
	if n := len(e.partition()); n != e.rows {
		t.Errorf("%d rows after two consumers, want %d", n, e.rows)
	}
	if n := loadJobs(t, e.Env, rawBox.Job); n != 1 {
		t.Errorf("%d load jobs after two consumers, want 1", n)
	}

	// A new input: the same bytes stored again are a new generation, so its load job id is
	// one that does not exist yet.
	e.Put(t, map[string][]byte{gameLogObject: e.full})
	e.lost.pairInserts()
	var wg sync.WaitGroup
	results := make([]runner.Result, 2)
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			results[i], errs[i] = e.jobs[rawBox.Job].Run(context.Background(), messages.Request{Version: messages.Version,
				Phase: rawBox.Phase, Job: rawBox.Job, Date: gameDay, RunID: "concurrent"})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent runs: %v", err)
	}
	if n := e.lost.paired.Load(); n != 2 {
		t.Fatalf("%d load inserts were held together, want 2: the runs did not race", n)
	}
	if n := e.lost.conflicts.Load(); n != 1 {
		t.Errorf("BigQuery refused %d of the two inserts as existing, want 1: the other run must attach to the job", n)
	}
	if results[0].Fingerprint == "" || results[0].Fingerprint != results[1].Fingerprint {
		t.Errorf("the two runs saw inputs %q and %q, want one input", results[0].Fingerprint, results[1].Fingerprint)
	}
	if n := len(e.partition()); n != e.rows {
		t.Errorf("%d rows after two concurrent submissions of one load, want %d", n, e.rows)
	}
	if n := loadJobs(t, e.Env, rawBox.Job); n != 2 {
		t.Errorf("%d load jobs, want 2: the first input's and exactly one for the new input", n)
	}
}

// lostAnswers is the BigQuery client's transport. Armed, it loses one answer about a raw
// load job after the emulator has acted on the request: the insert's response, or the first
// status read. Paired (pairInserts), it holds the next raw load insert until a second one
// arrives and then sends both at once.
type lostAnswers struct {
	base  http.RoundTripper
	mu    sync.Mutex
	armed string // "insert", "status" or ""
	cut   atomic.Int32
	// pair is open while a held insert waits for its partner; paired counts the inserts that
	// went through the pairing, and conflicts the raw load inserts BigQuery refused because
	// the job id existed (HTTP 409).
	pair      chan struct{}
	held      int
	paired    atomic.Int32
	conflicts atomic.Int32
}

// pairInserts makes the next two raw load inserts leave together, and counts conflicts
// from now on.
func (l *lostAnswers) pairInserts() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pair, l.held = make(chan struct{}), 0
	l.paired.Store(0)
	l.conflicts.Store(0)
}

// meet holds a raw load insert until its partner arrives (or 30 s pass, so that a run that
// never sends its insert fails the test's race check instead of hanging it).
func (l *lostAnswers) meet() {
	l.mu.Lock()
	pair := l.pair
	if pair == nil {
		l.mu.Unlock()
		return
	}
	l.held++
	l.paired.Add(1)
	if l.held == 2 {
		close(pair)
		l.pair = nil
	}
	l.mu.Unlock()
	select {
	case <-pair:
	case <-time.After(30 * time.Second):
	}
}

func (l *lostAnswers) arm(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed = what
}

func (l *lostAnswers) take(what string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.armed != what {
		return false
	}
	l.armed = ""
	l.cut.Add(1)
	return true
}

// errConnectionLost is not one the client retries by itself (it retries "connection reset"),
// so the failure reaches the job and the runtime, as a lost answer past the client's retries
// would.
var errConnectionLost = errors.New("answer lost on the wire after the request was served (injected)")

func (l *lostAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/jobs/raw_") && l.take("status"):
		return nil, errConnectionLost
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/jobs") && r.Body != nil:
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte(`"jobId":"raw_`)) {
			l.meet()
		}
		resp, err := l.base.RoundTrip(r)
		if err == nil && resp.StatusCode == http.StatusConflict {
			l.conflicts.Add(1)
		}
		if err == nil && resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"jobId":"raw_`)) && l.take("insert") {
			resp.Body.Close()
			return nil, errConnectionLost
		}
		return resp, err
	}
	return l.base.RoundTrip(r)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func md5Of(b []byte) []byte {
	s := md5.Sum(b)
	return s[:]
}

func mustCivil(t testing.TB, date string) civil.Date {
	t.Helper()
	d, err := civil.ParseDate(date)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLessonFailedWriteIsNeverASuccess (a failed write is never a success): the load into BigQuery fails on every
// attempt (the table is gone). The date is never recorded succeeded, its message is not
// acked as done: the ledger ends dead after the attempt bound with the load's error, one
// dead letter says why, and nothing downstream is triggered.
func TestLessonFailedWriteIsNeverASuccess(t *testing.T) {
	t.Parallel()
	e := newLessonEnv(t)
	if err := e.BigQuery.Dataset("nba_raw").Table("nbac_player_boxscores").Delete(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.start("consumer-a")
	e.publish(1, scrapeBox)
	rec := e.wait(rawBox, "dead after the attempt bound", func(r ledger.Record) bool { return r.State == ledger.StateDead })
	if rec.Reason != runner.ReasonMaxAttempts || rec.Attempts != 5 || !strings.Contains(rec.LastError, "nbac_player_boxscores") {
		t.Errorf("raw record: reason %q, attempts %d, error %q; want max_attempts after 5 attempts with the load's error", rec.Reason, rec.Attempts, rec.LastError)
	}
	for _, h := range rec.History {
		if h.State != ledger.StateDead || h.Rows != 0 {
			t.Errorf("raw history has a %s run with %d rows; a failed write must never count", h.State, h.Rows)
		}
	}
	// The dead letter is published before the message is acked, after the record is written.
	var dead, downstream int
	deadline := time.Now().Add(30 * time.Second)
	for {
		dead, downstream = 0, 0
		for _, m := range e.em.PubSubServer.Server.Messages() {
			switch {
			case strings.HasSuffix(m.Topic, "/"+e.em.Names.DeadLetterTopic()):
				dead++
				if m.Attributes[runner.AttrReason] != runner.ReasonMaxAttempts || m.Attributes[messages.AttrJob] != rawBox.Job {
					t.Errorf("dead letter attributes %v", m.Attributes)
				}
			case strings.HasSuffix(m.Topic, "/"+e.em.Names.Topic(messages.PhaseAnalytics)):
				downstream++
			}
		}
		if dead > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.settled()
	if dead != 1 || downstream != 0 {
		t.Errorf("%d dead letters and %d analytics messages, want 1 and 0", dead, downstream)
	}
}

// TestLessonEveryRowJoinsTheSchedule (canonical keys): over game days sampled across a
// simulated regular season (both DST changes included), every box-score and props row keys
// to one scheduled game by the canonical game_id with the same two teams on the same sides,
// and every scheduled game has rows in each box-score table.
func TestLessonEveryRowJoinsTheSchedule(t *testing.T) {
	t.Parallel()
	env, jobs := setup(t)
	sim := warehousetest.Sim(time.Time{})
	var days []string
	seen := map[string]bool{}
	pick := func(from time.Time) {
		for d := from; d.Before(time.Date(2025, 4, 14, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 1) {
			date := d.Format(messages.DateLayout)
			if g, err := sim.GamesOn(date); err == nil && len(g) > 0 {
				if !seen[date] {
					seen[date] = true
					days = append(days, date)
				}
				return
			}
		}
	}
	for d := time.Date(2024, 10, 22, 0, 0, 0, 0, time.UTC); d.Before(time.Date(2025, 4, 14, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 23) {
		pick(d)
	}
	pick(time.Date(2024, 11, 3, 0, 0, 0, 0, time.UTC)) // DST ends
	pick(time.Date(2025, 3, 9, 0, 0, 0, 0, time.UTC))  // DST starts
	if len(days) < 8 {
		t.Fatalf("only %d game days sampled: %v", len(days), days)
	}
	ctx := context.Background()
	games := 0
	for _, d := range days {
		g, _ := sim.GamesOn(d)
		games += len(g)
		env.Put(t, warehousetest.Capture(t, sim, d))
		for _, job := range []string{"nbac_schedule", "nbac_player_boxscores", "bdl_player_boxscores", "odds_api_player_points_props"} {
			if _, err := jobs[job].Run(ctx, request(job, d)); err != nil {
				t.Fatalf("%s %s: %v", job, d, err)
			}
		}
	}
	first, last := mustCivil(t, days[0]), mustCivil(t, days[0])
	for _, d := range days {
		if c := mustCivil(t, d); c.Before(first) {
			first = c
		} else if c.After(last) {
			last = c
		}
	}
	span := map[string]any{"a": first, "b": last}
	if n := env.Query(t, "SELECT COUNT(*) AS n FROM nba_raw.nbac_schedule WHERE game_date BETWEEN @a AND @b", span)[0]["n"]; n != float64(games) {
		t.Fatalf("the schedule holds %v games on the %d sampled days, the simulator %d", n, len(days), games)
	}
	for _, table := range []string{"nbac_player_boxscores", "bdl_player_boxscores"} {
		bad := env.Query(t, "SELECT t.game_date, t.game_id, t.team_abbr, t.opponent_abbr, t.is_home FROM nba_raw."+table+" AS t "+
			"LEFT JOIN nba_raw.nbac_schedule AS s ON s.game_id = t.game_id AND s.game_date = t.game_date "+
			"WHERE t.game_date BETWEEN @a AND @b AND (s.game_id IS NULL OR NOT ("+
			"(t.is_home AND t.team_abbr = s.home_team_abbr AND t.opponent_abbr = s.away_team_abbr) OR "+
			"(NOT t.is_home AND t.team_abbr = s.away_team_abbr AND t.opponent_abbr = s.home_team_abbr))) LIMIT 5", span)
		if len(bad) != 0 {
			t.Errorf("%s rows that do not join their scheduled game team for team: %v", table, bad)
		}
		covered := env.Query(t, "SELECT COUNT(DISTINCT CONCAT(game_id, team_abbr)) AS n FROM nba_raw."+table+" WHERE game_date BETWEEN @a AND @b", span)[0]["n"]
		if covered != float64(2*games) {
			t.Errorf("%s has rows for %v (game, team) pairs, want both teams of all %d games", table, covered, games)
		}
	}
	bad := env.Query(t, "SELECT t.game_date, t.game_id, t.home_team_abbr, t.away_team_abbr FROM nba_raw.odds_api_player_points_props AS t "+
		"LEFT JOIN nba_raw.nbac_schedule AS s ON s.game_id = t.game_id AND s.game_date = t.game_date "+
		"WHERE t.game_date BETWEEN @a AND @b AND (s.game_id IS NULL OR t.home_team_abbr != s.home_team_abbr OR t.away_team_abbr != s.away_team_abbr) LIMIT 5", span)
	if len(bad) != 0 {
		t.Errorf("props rows that do not join their scheduled game: %v", bad)
	}
}

// TestLessonEveryObjectOfTheDateIsRead (every object of a date): a date's input is
// several objects, one per page or per (event, snapshot). Every one of them reaches the
// partition, and the input fingerprint covers every one: rewriting any single object, even
// with the same bytes (a new generation), is a new input that loads again, while the rows
// stay the source's rows.
func TestLessonEveryObjectOfTheDateIsRead(t *testing.T) {
	t.Parallel()
	captured := warehousetest.ReadDir(t, "testdata/capture/"+gameDay)
	for _, tc := range []struct {
		job string
		// read lists the prefixes the job reads; rows, the prefix of the objects that hold rows.
		read []messages.Scraped
		rows messages.Scraped
	}{
		{"bdl_player_boxscores", []messages.Scraped{messages.ScrapedBDLPlayerBoxscores, messages.ScrapedBDLGames}, messages.ScrapedBDLPlayerBoxscores},
		{"odds_api_player_points_props", []messages.Scraped{messages.ScrapedOddsAPIPlayerProps}, messages.ScrapedOddsAPIPlayerProps},
	} {
		t.Run(tc.job, func(t *testing.T) {
			t.Parallel()
			env, jobs := setup(t, gameDay)
			tb := tables[tc.job]
			var inputs []string
			want := map[string]bool{} // source_file_path of every object that holds rows
			for name := range captured {
				for _, p := range tc.read {
					if strings.HasPrefix(name, p.Prefix(gameDay)) {
						inputs = append(inputs, name)
					}
				}
				if strings.HasPrefix(name, tc.rows.Prefix(gameDay)) && !messages.IsOddsEventsList(name) {
					want["gs://BUCKET/"+name] = true
				}
			}
			if len(want) < 3 {
				t.Fatalf("the capture has %d objects with rows for %s: too few to show anything", len(want), tc.job)
			}
			run := func() runner.Result {
				t.Helper()
				res, err := jobs[tc.job].Run(context.Background(), request(tc.job, gameDay))
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			first := run()
			rows := env.Partition(t, tb.table, tb.field, gameDay)
			got := map[string]bool{}
			for _, r := range rows {
				got[r["source_file_path"].(string)] = true
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("objects with rows in the partition (-stored +loaded):\n%s", diff)
			}

			seen := map[string]string{first.Fingerprint: "the first run"}
			for i, name := range inputs {
				env.Put(t, map[string][]byte{name: captured[name]}) // same bytes, new generation
				res := run()
				if prev, dup := seen[res.Fingerprint]; dup {
					t.Errorf("rewriting %s gave the input fingerprint of %s: the object is not part of it", name, prev)
				}
				seen[res.Fingerprint] = "the rewrite of " + name
				if n := loadJobs(t, env, tc.job); n != i+2 {
					t.Errorf("after rewriting %s: %d load jobs, want %d (one per distinct input)", name, n, i+2)
				}
				if n := res.Rows[gameDay]; n != int64(len(rows)) {
					t.Errorf("after rewriting %s: %d rows, want the same %d", name, n, len(rows))
				}
			}
		})
	}
}
