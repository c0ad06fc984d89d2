package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

func TestDLQListGroupsWithCountsAndExamples(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	now := time.Now()
	for i, d := range []ledger.DeadLetter{
		{Reason: "job_error", Phase: "scrapers", Job: "bdl_games", Date: "2024-10-22", RunID: "r1", Error: "key refused", Stored: now.Add(-time.Hour)},
		{Reason: "job_error", Phase: "scrapers", Job: "bdl_games", Date: "2024-10-23", RunID: "r1", Error: "key refused", Stored: now.Add(-30 * time.Minute)},
		{Reason: "max_attempts", Phase: "raw", Job: "nbac_schedule", Date: "2024-10-22", RunID: "r1", Error: "bigquery 503", Stored: now.Add(-10 * time.Minute)},
		{Reason: "malformed", Error: "not json", Stored: now.Add(-72 * time.Hour)},
	} {
		d.MessageID, d.Data = fmt.Sprintf("m%d", i+1), []byte("{}")
		if _, err := l.PutDeadLetter(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runProducer(t, vars, "dlq", "list")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, s := range []string{"4 dead letters in the store, by reason:", "job_error     2      0", "max_attempts  1", "malformed     1",
		"  m2  scrapers/bdl_games 2024-10-23 run r1, job_error: key refused", "  m4  (no job) - run -, malformed: not json"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("dlq list lacks %q:\n%s", s, stdout)
		}
	}
	code, stdout, _ = runProducer(t, vars, "dlq", "list", "--group-by", "job", "--since", "24h", "--json")
	var groups []groupJSON
	if err := json.Unmarshal([]byte(stdout), &groups); code != exitOK || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, stdout)
	}
	got := map[string]int{}
	for _, g := range groups {
		got[g.Key] = g.Count
	}
	if diff := cmp.Diff(map[string]int{"scrapers/bdl_games": 2, "raw/nbac_schedule": 1}, got); diff != "" {
		t.Errorf("by job over the last day (-want +got):\n%s", diff)
	}
	if groups[0].Key != "scrapers/bdl_games" || groups[0].Examples[0].MessageID != "m2" {
		t.Errorf("the largest group first, latest example first: %+v", groups[0])
	}
	for args, want := range map[string]string{
		"--group-by run": `--group-by "run": use reason, job or date`,
		"--since soon":   `--since "soon": give a duration back such as 24h`,
		"--examples -1":  "--examples -1",
	} {
		code, _, stderr := runProducer(t, vars, append([]string{"dlq", "list"}, strings.Fields(args)...)...)
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr %q lacks %q", args, code, stderr, want)
		}
	}
}

// TestReplayedPoisonIsDeadLetteredAgain: a malformed message, replayed, is dead-lettered
// again by the consumers with its reason, and one without a phase goes back to the
// dead-letter topic and is kept again; the originals show as replayed and are left out of
// the next replay.
func TestReplayedPoisonIsDeadLetteredAgain(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	ctx := context.Background()
	var log jobLog
	consumers(t, env, &log, nil)
	attrs := map[string]string{messages.AttrVersion: "1", messages.AttrPhase: "raw", messages.AttrJob: "bdl_player_boxscores",
		messages.AttrDate: "2024-10-22", messages.AttrRunID: "r1", messages.AttrLane: messages.LaneBackfill}
	pub := env.PubSub.Publisher(env.Names.Topic(messages.PhaseRaw))
	defer pub.Stop()
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: []byte("{not json"), Attributes: attrs}).Get(ctx); err != nil {
		t.Fatal(err)
	}
	letters := func(n int) []ledger.DeadLetterSummary {
		var got []ledger.DeadLetterSummary
		waitFor(t, fmt.Sprintf("%d dead letters", n), func() (bool, string) {
			var err error
			got, err = l.ListDeadLetters(ctx, time.Time{})
			return err == nil && len(got) == n, fmt.Sprint(got, err)
		})
		return got
	}
	first := letters(1)[0]
	if first.Reason != "malformed" || first.Job != "bdl_player_boxscores" {
		t.Fatalf("the poison message was kept as %+v", first)
	}
	// One without any attributes, as a broken publisher would send it.
	if _, err := l.PutDeadLetter(ctx, ledger.DeadLetter{MessageID: "bare", Reason: "malformed", Error: "no attributes", Data: []byte("junk")}); err != nil {
		t.Fatal(err)
	}

	code, stdout, _ := runProducer(t, vars, "dlq", "replay", "--reason", "malformed", "--dry-run")
	for _, s := range []string{
		"would replay " + first.MessageID + " (raw/bdl_player_boxscores 2024-10-22) to " + env.Names.Topic(messages.PhaseRaw) + "\n",
		"would replay bare (-/- -) to " + env.Names.DeadLetterTopic() + " (no usable phase attribute: back to the dead-letter topic with its reason)",
		"dry run: 2 letters would be replayed; nothing published",
	} {
		if code != exitOK || !strings.Contains(stdout, s) {
			t.Errorf("dry run (exit %d) lacks %q:\n%s", code, s, stdout)
		}
	}
	code, stdout, stderr := runProducer(t, vars, "dlq", "replay", "--reason", "malformed")
	if code != exitOK || !strings.Contains(stdout, "replayed 2 letters with reason malformed") {
		t.Fatalf("replay (exit %d):\n%s%s", code, stdout, stderr)
	}
	all := letters(4)
	replayed, fresh := 0, 0
	for _, d := range all {
		if d.Reason != "malformed" {
			t.Errorf("letter %s kept with reason %q, want malformed", d.MessageID, d.Reason)
		}
		if d.Replays > 0 {
			replayed++
		} else {
			fresh++
		}
	}
	if replayed != 2 || fresh != 2 {
		t.Errorf("%d letters replayed and %d new, want 2 and 2: %+v", replayed, fresh, all)
	}
	// The replayed message is the original: body and attributes, nothing added.
	for _, d := range all {
		if d.Replays > 0 || d.Job == "" {
			continue
		}
		got, err := l.GetDeadLetter(ctx, d.MessageID)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Data) != "{not json" || !cmp.Equal(got.Attributes, attrs) {
			t.Errorf("replayed message arrived as %q with %v, want the original body and %v", got.Data, got.Attributes, attrs)
		}
	}
	code, stdout, _ = runProducer(t, vars, "dlq", "list")
	if code != exitOK || !strings.Contains(stdout, "malformed  4      2") || !strings.Contains(stdout, "(replayed ") {
		t.Errorf("dlq list does not show the replays:\n%s", stdout)
	}
	// The two replayed already are left out; the two new ones go.
	code, stdout, _ = runProducer(t, vars, "dlq", "replay", "--reason", "malformed", "--dry-run")
	if code != exitOK || !strings.Contains(stdout, "dry run: 2 letters would be replayed") || strings.Contains(stdout, first.MessageID+" ") {
		t.Errorf("a second replay does not leave out the replayed letters (exit %d):\n%s", code, stdout)
	}
}

// TestReplayAfterTheFixRuns: a scrape that died on a permanent error, replayed once the
// cause is fixed, runs and succeeds under its run.
func TestReplayAfterTheFixRuns(t *testing.T) {
	t.Parallel()
	env, vars := stack(t)
	l := ledger.New(env.Storage, env.Bucket, ledger.Options{})
	games := messages.Ref(messages.PhaseScrapers, "bdl_games")
	var fixed atomic.Bool
	var log jobLog
	consumers(t, env, &log, map[messages.JobRef]runner.JobFunc{
		games: func(_ context.Context, req messages.Request) (runner.Result, error) {
			if !fixed.Load() {
				return runner.Result{}, runner.Permanent(errors.New("bdl games: the key was refused"))
			}
			return runner.Result{Objects: []runner.Object{{Name: "g/" + req.Date, Generation: 1}}}, nil
		},
	})
	if code, _, stderr := runProducer(t, vars, "enqueue", "--phase", "scrapers", "--job", "bdl_games", "--dates", "2024-10-22",
		"--stop-after", "scrapers", "--run-id", "r-key"); code != exitOK {
		t.Fatalf("enqueue: exit %d: %s", code, stderr)
	}
	waitStates(t, l, games, []string{"2024-10-22"}, ledger.StateDead)
	waitFor(t, "the dead letter", func() (bool, string) {
		ls, err := l.ListDeadLetters(context.Background(), time.Time{})
		return err == nil && len(ls) == 1, fmt.Sprint(ls, err)
	})
	fixed.Store(true)
	code, stdout, stderr := runProducer(t, vars, "dlq", "replay", "--reason", "job_error", "--job", "scrapers/bdl_games", "--dates", "2024-10-22")
	if code != exitOK || !strings.Contains(stdout, "replayed 1 letter with reason job_error") {
		t.Fatalf("replay (exit %d):\n%s%s", code, stdout, stderr)
	}
	waitStates(t, l, games, []string{"2024-10-22"}, ledger.StateSucceeded)
	rec, _, err := l.Get(context.Background(), games, "2024-10-22")
	if err != nil || rec.RunID != "r-key" {
		t.Errorf("record after the replay: run %q, %v; want r-key", rec.RunID, err)
	}
	// The list says the letter was replayed and its date is done now.
	code, stdout, _ = runProducer(t, vars, "dlq", "list", "--json")
	var groups []groupJSON
	if err := json.Unmarshal([]byte(stdout), &groups); code != exitOK || err != nil || len(groups) != 1 {
		t.Fatalf("exit %d, %v:\n%s", code, err, stdout)
	}
	if g := groups[0]; g.Key != "job_error" || g.Replayed != 1 || g.DoneNow != 1 || g.Examples[0].Now != "succeeded" {
		t.Errorf("dlq list after the replay: %+v; want job_error replayed 1, done now 1, succeeded now", g)
	}
}
