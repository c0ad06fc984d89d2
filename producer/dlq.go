package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
	"github.com/spf13/cobra"
)

func dlqCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List and replay the dead letters kept in the bucket",
		Long: withEnv(`List and replay the dead letters: every message the pipeline could not process is kept in the
bucket (_deadletters/<message id>.json) with its reason, error, job, date, run id and the
original body and attributes, whatever the dead-letter topic's subscriptions retain.`),
		Args: cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for producer dlq: use list or replay", args[0])
			}
			return usagef("producer dlq needs a command: list or replay (producer dlq --help)")
		},
	}
	cmd.AddCommand(dlqListCmd(e), dlqReplayCmd(e))
	return cmd
}

type dlqListFlags struct {
	groupBy, since string
	examples       int
	json           bool
}

func dlqListCmd(e *env) *cobra.Command {
	var f dlqListFlags
	cmd := &cobra.Command{
		Use:   "list [--group-by reason|job|date] [--since 24h|RFC3339] [--json]",
		Short: "Count the dead letters by reason, job or date, with examples",
		Long: withEnv(`Count the stored dead letters by reason, job or date, with the latest examples of each group
(message id, job, date, run, error, and its date's state in the ledger now), how many were
replayed already (dlq replay) and how many of their dates are done now (a retry, a replay
or an enqueue got them through).`),
		Example: `  producer dlq list
  producer dlq list --group-by job --since 24h
  producer dlq list --since 2024-11-01T00:00:00Z --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return dlqList(cmd.Context(), e, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.groupBy, "group-by", "reason", "reason, job or date")
	fl.StringVar(&f.since, "since", "", "only letters stored since: a duration back (24h, 7d) or an RFC 3339 time")
	fl.IntVar(&f.examples, "examples", 3, "examples per group (0: every letter)")
	fl.BoolVar(&f.json, "json", false, "print JSON")
	return cmd
}

// parseSince reads --since: a duration back from now (Go's form, or whole days as "7d"),
// an RFC 3339 time, or a date.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := messages.ParseDate(s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--since %q: give a duration back such as 24h, 90m or 7d, or a time such as 2024-11-01T00:00:00Z", s)
}

// letterKey is a dead letter's group under groupBy.
func letterKey(d ledger.DeadLetterSummary, groupBy string) string {
	switch groupBy {
	case "job":
		if d.Job == "" {
			return "(no job)"
		}
		return orDash(d.Phase) + "/" + d.Job
	case "date":
		if d.Date == "" {
			return "(no date)"
		}
		return d.Date
	}
	return d.Reason
}

type letterJSON struct {
	MessageID string    `json:"message_id"`
	Reason    string    `json:"reason"`
	Phase     string    `json:"phase,omitempty"`
	Job       string    `json:"job,omitempty"`
	Date      string    `json:"date,omitempty"`
	RunID     string    `json:"run_id,omitempty"`
	Error     string    `json:"error,omitempty"`
	Stored    time.Time `json:"stored"`
	Replays   int       `json:"replays,omitempty"`
	Replayed  time.Time `json:"replayed,omitzero"`
	// Now is the state of the letter's (job, date) in the ledger now: "succeeded" once a
	// retry, a replay or an enqueue got it through.
	Now string `json:"now,omitempty"`
}

type groupJSON struct {
	Key        string       `json:"key"`
	Count      int          `json:"count"`
	Replayed   int          `json:"replayed"`
	DoneNow    int          `json:"done_now"`
	LastStored time.Time    `json:"last_stored"`
	Examples   []letterJSON `json:"examples"`
}

func dlqList(ctx context.Context, e *env, f dlqListFlags) error {
	if !slices.Contains([]string{"reason", "job", "date"}, f.groupBy) {
		return usagef("--group-by %q: use reason, job or date", f.groupBy)
	}
	if f.examples < 0 {
		return usagef("--examples %d: must be 0 (every letter) or more", f.examples)
	}
	since, err := parseSince(f.since, time.Now())
	if err != nil {
		return err
	}
	cl, err := open(ctx, e, false)
	if err != nil {
		return err
	}
	defer cl.Close()
	l := cl.ledger
	letters, err := l.ListDeadLetters(ctx, since)
	if err != nil {
		return err
	}
	now, err := statesNow(ctx, e.catalog, l, letters)
	if err != nil {
		return err
	}
	// Latest first within a group, so the examples are the recent ones.
	slices.SortFunc(letters, func(a, b ledger.DeadLetterSummary) int { return b.Stored.Compare(a.Stored) })
	groups := map[string]*groupJSON{}
	for _, d := range letters {
		k := letterKey(d, f.groupBy)
		g := groups[k]
		if g == nil {
			g = &groupJSON{Key: k, Examples: []letterJSON{}}
			groups[k] = g
		}
		g.Count++
		if d.Replays > 0 {
			g.Replayed++
		}
		st := now[messages.Ref(messages.Phase(d.Phase), d.Job).String()+" "+d.Date]
		if st.Done() {
			g.DoneNow++
		}
		if d.Stored.After(g.LastStored) {
			g.LastStored = d.Stored
		}
		if f.examples == 0 || len(g.Examples) < f.examples {
			g.Examples = append(g.Examples, letterJSON{MessageID: d.MessageID, Reason: d.Reason, Phase: d.Phase, Job: d.Job, Date: d.Date,
				RunID: d.RunID, Error: d.Error, Stored: d.Stored, Replays: d.Replays, Replayed: d.Replayed, Now: string(st)})
		}
	}
	out := slices.Collect(maps.Values(groups))
	slices.SortFunc(out, func(a, b *groupJSON) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Key, b.Key)
	})
	if f.json {
		list := []groupJSON{}
		for _, g := range out {
			list = append(list, *g)
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(list); err != nil {
			return fmt.Errorf("writing json: %w", err)
		}
		return nil
	}
	w := e.stdout
	where := "in the store"
	if !since.IsZero() {
		where = "stored since " + since.UTC().Format(time.RFC3339)
	}
	if len(letters) == 0 {
		fmt.Fprintf(w, "no dead letters %s\n", where)
		return nil
	}
	fmt.Fprintf(w, "%s %s, by %s:\n", plural(len(letters), "dead letter"), where, f.groupBy)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tCOUNT\tREPLAYED\tDONE NOW\tLAST STORED\n", strings.ToUpper(f.groupBy))
	for _, g := range out {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", g.Key, g.Count, g.Replayed, g.DoneNow, g.LastStored.UTC().Format(time.RFC3339))
	}
	tw.Flush()
	for _, g := range out {
		fmt.Fprintf(w, "%s:\n", g.Key)
		for _, x := range g.Examples {
			job := orDash(x.Phase) + "/" + x.Job
			if x.Job == "" {
				job = "(no job)"
			}
			fmt.Fprintf(w, "  %s  %s %s run %s, %s", x.MessageID, job, orDash(x.Date), orDash(x.RunID), x.Reason)
			if x.Error != "" {
				fmt.Fprintf(w, ": %s", x.Error)
			}
			if x.Replays > 0 {
				fmt.Fprintf(w, " (replayed %s)", x.Replayed.UTC().Format(time.RFC3339))
			}
			if x.Now != "" {
				fmt.Fprintf(w, " [%s now]", x.Now)
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w, "replay with: producer dlq replay --reason R [--job J] [--dates D,...] (fix the cause first)")
	return nil
}

// statesNow reads the ledger state of the (job, date) of each letter that names a job of
// the catalogue, by "phase/job date": one listing per job.
func statesNow(ctx context.Context, c *messages.Catalog, l *ledger.Ledger, letters []ledger.DeadLetterSummary) (map[string]ledger.State, error) {
	var refs []messages.JobRef
	for _, d := range letters {
		ref := messages.Ref(messages.Phase(d.Phase), d.Job)
		if _, ok := c.Lookup(ref); ok {
			refs = append(refs, ref) // ListJobs lists a job named twice once
		}
	}
	listed, err := l.ListJobs(ctx, refs, "", "")
	if err != nil {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	out := map[string]ledger.State{}
	for ref, sums := range listed {
		for _, s := range sums {
			out[ref.String()+" "+s.Date] = s.State
		}
	}
	return out, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type dlqReplayFlags struct {
	reason, job, since string
	dates              []string
	again, dryRun      bool
}

func dlqReplayCmd(e *env) *cobra.Command {
	var f dlqReplayFlags
	cmd := &cobra.Command{
		Use:   "replay --reason R [--job J] [--dates D,...] [--dry-run]",
		Short: "Publish dead letters again, as they were first published, to their phase's topic",
		Long: withEnv(`Publish the stored dead letters of a reason again, each with its original body and attributes
(without the reason, error, subscription, delivery attempt and message id added when it was
dead-lettered) to the topic of its phase attribute, and mark it replayed in the store. A
letter without a usable phase goes back to the dead-letter topic with its reason, where the
consumers keep it again: a message that cannot be processed is dead-lettered again anyway.
A letter replayed already is left out unless --again. Fix the cause first: a replayed
message runs as it first would have (same run id; the messages of a cancelled run are
dropped).`),
		Example: `  producer dlq replay --reason job_error --job scrapers/bdl_games --dry-run
  producer dlq replay --reason max_attempts --dates 2024-11-02,2024-11-03`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return dlqReplay(cmd.Context(), e, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.reason, "reason", "", "the dead-letter reason to replay (see producer dlq list)")
	fl.StringVar(&f.job, "job", "", "only letters of this job: phase/job, or a job name")
	fl.StringSliceVar(&f.dates, "dates", nil, "only letters of these dates, comma-separated")
	fl.StringVar(&f.since, "since", "", "only letters stored since: a duration back (24h, 7d) or an RFC 3339 time")
	fl.BoolVar(&f.again, "again", false, "replay letters that were replayed already too")
	fl.BoolVar(&f.dryRun, "dry-run", false, "list what would be replayed, and where, and publish nothing")
	return cmd
}

// deadLetterAttributes are the attributes a message gains when it is dead-lettered: the
// runtime's, and the prefix of those Pub/Sub's own dead-letter policy adds.
var deadLetterAttributes = []string{runner.AttrReason, runner.AttrError, runner.AttrSubscription, runner.AttrDeliveryAttempt, runner.AttrMessageID}

const pubsubDeadLetterPrefix = "CloudPubSubDeadLetter"

// originalAttributes returns a dead letter's attributes as the message was first
// published.
func originalAttributes(attrs map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range attrs {
		if !slices.Contains(deadLetterAttributes, k) && !strings.HasPrefix(k, pubsubDeadLetterPrefix) {
			out[k] = v
		}
	}
	return out
}

func dlqReplay(ctx context.Context, e *env, f dlqReplayFlags) error {
	if f.reason == "" {
		return usagef("--reason is required: replay one reason at a time (producer dlq list shows them)")
	}
	var jobPhase, jobName string
	if f.job != "" {
		jobName = f.job
		if strings.Contains(f.job, "/") {
			ref, err := messages.ParseJobRef(f.job)
			if err != nil {
				return usagef("--job %q: %w", f.job, err)
			}
			jobPhase, jobName = string(ref.Phase), ref.Job
		}
	}
	dates, err := dateList(f.dates)
	if err != nil {
		return err
	}
	since, err := parseSince(f.since, time.Now())
	if err != nil {
		return err
	}
	cl, err := open(ctx, e, !f.dryRun)
	if err != nil {
		return err
	}
	defer cl.Close()
	cfg, l := cl.cfg, cl.ledger
	letters, err := l.ListDeadLetters(ctx, since)
	if err != nil {
		return err
	}
	var chosen []ledger.DeadLetterSummary
	replayedBefore := 0
	for _, d := range letters {
		if d.Reason != f.reason || (jobName != "" && d.Job != jobName) || (jobPhase != "" && d.Phase != jobPhase) ||
			(len(dates) > 0 && !slices.Contains(dates, d.Date)) {
			continue
		}
		if d.Replays > 0 && !f.again {
			replayedBefore++
			continue
		}
		chosen = append(chosen, d)
	}
	w := e.stdout
	if len(chosen) == 0 {
		fmt.Fprintf(w, "no dead letters with reason %s", f.reason)
		if f.job != "" {
			fmt.Fprintf(w, " of job %s", f.job)
		}
		if len(dates) > 0 {
			fmt.Fprintf(w, " on %s", strings.Join(dates, ", "))
		}
		fmt.Fprint(w, " to replay")
		if replayedBefore > 0 {
			fmt.Fprintf(w, " (%s replayed already: --again replays them once more)", plural(replayedBefore, "letter"))
		}
		fmt.Fprintln(w)
		return nil
	}
	names := messages.Names{Prefix: cfg.Prefix}
	cancelled := map[string]bool{}
	pubs := map[string]*pubsub.Publisher{}
	defer func() {
		for _, p := range pubs {
			p.Stop()
		}
	}()
	replayed := 0
	for _, s := range chosen {
		d, err := l.GetDeadLetter(ctx, s.MessageID)
		if err != nil {
			return err
		}
		attrs := originalAttributes(d.Attributes)
		topic, why := names.DeadLetterTopic(), "no usable phase attribute: back to the dead-letter topic with its reason"
		if p, err := messages.ParsePhase(attrs[messages.AttrPhase]); err == nil {
			topic, why = names.Topic(p), ""
		} else {
			attrs[runner.AttrReason], attrs[runner.AttrError] = d.Reason, d.Error
		}
		what := fmt.Sprintf("%s (%s/%s %s)", d.MessageID, orDash(d.Phase), orDash(d.Job), orDash(d.Date))
		if d.RunID != "" {
			if _, ok := cancelled[d.RunID]; !ok {
				_, err := l.Cancelled(ctx, d.RunID)
				cancelled[d.RunID] = err == nil
			}
			if cancelled[d.RunID] {
				fmt.Fprintf(w, "note: %s is of run %s, which is cancelled: the consumers will drop it\n", d.MessageID, d.RunID)
			}
		}
		if f.dryRun {
			fmt.Fprintf(w, "would replay %s to %s%s\n", what, topic, parenthesis(why))
			continue
		}
		pub := pubs[topic]
		if pub == nil {
			pub = cl.pubsub.Publisher(topic)
			pubs[topic] = pub
		}
		id, err := pub.Publish(ctx, &pubsub.Message{Data: d.Data, Attributes: attrs}).Get(ctx)
		if err != nil {
			return fmt.Errorf("replaying %s to %s (%d of %s replayed): %w", d.MessageID, topic, replayed, plural(len(chosen), "letter"), err)
		}
		if _, err := l.MarkReplayed(ctx, d.MessageID, ledger.Replay{Topic: topic, MessageID: id}); err != nil {
			return fmt.Errorf("%s was replayed as %s but not marked so: %w", d.MessageID, id, err)
		}
		replayed++
		fmt.Fprintf(w, "replayed %s to %s as %s%s\n", what, topic, id, parenthesis(why))
	}
	if f.dryRun {
		fmt.Fprintf(w, "dry run: %s would be replayed; nothing published\n", plural(len(chosen), "letter"))
		return nil
	}
	fmt.Fprintf(w, "replayed %s with reason %s; producer status or producer dlq list show what became of them\n", plural(replayed, "letter"), f.reason)
	return nil
}

func parenthesis(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}
