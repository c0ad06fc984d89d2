package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/sourcesim"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/infra/verify"
)

// compareTables checks every table against the simulator's ground truth with
// infra/verify, as make run does, as a backfill of the whole range leaves them. A date with
// a permanent failure is compared on its own: its lost tables must hold no row of it, its
// degraded ones the right rows (with the lost input's columns empty, and without the rows
// the lost input alone makes), every other table must match. Every other run of
// consecutive dates must match entirely, but for the tables a permanent failure degrades
// everywhere: those must hold the right rows.
func compareTables(ctx context.Context, bq *bigquery.Client, sim *sourcesim.Sim, dates []string, perms []permanent, out io.Writer) ([]string, error) {
	byDate := map[string][]permanent{}
	var everywhere []string
	for _, p := range perms {
		byDate[p.date] = append(byDate[p.date], p)
		everywhere = append(everywhere, p.everywhere...)
	}
	compare := func(ds []string) (verify.Report, error) {
		return verify.CompareIn(ctx, bq, sim, ds, dates[0], dates[len(dates)-1])
	}
	var problems []string
	var segment []string
	flush := func() error {
		if len(segment) == 0 {
			return nil
		}
		rep, err := compare(segment)
		if err != nil {
			return err
		}
		if len(everywhere) > 0 {
			fmt.Fprintf(out, "(a permanent failure leaves %s without what it feeds on every date: their rows are counted)\n", strings.Join(everywhere, ", "))
		}
		rep.Print(out)
		for _, t := range rep.Tables {
			switch {
			case slices.Contains(everywhere, t.Table):
				if t.Found != t.Expected {
					problems = append(problems, fmt.Sprintf("%s on %s..%s: %d rows, want %d", t.Table, segment[0], segment[len(segment)-1], t.Found, t.Expected))
				}
			case !t.OK():
				problems = append(problems, fmt.Sprintf("%s differs from the ground truth for %s..%s (see the comparison above)", t.Table, segment[0], segment[len(segment)-1]))
			}
		}
		segment = nil
		return nil
	}
	for _, d := range dates {
		ps, ok := byDate[d]
		if !ok {
			segment = append(segment, d)
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		rep, err := compare([]string{d})
		if err != nil {
			return nil, err
		}
		lost, degraded := []string{}, slices.Clone(everywhere)
		unmade := map[string]int{}
		for _, p := range ps {
			lost, degraded = append(lost, p.lost...), append(degraded, p.degraded...)
			if p.unmade == nil {
				continue
			}
			day, err := sim.Truth(d)
			if err != nil {
				return nil, err
			}
			for t, n := range p.unmade(day) {
				unmade[t] += n
			}
		}
		fmt.Fprintf(out, "(%s has a permanent failure: %s hold no row of it; %s keep their rows without what it feeds)\n",
			d, strings.Join(lost, ", "), orNone(degraded))
		rep.Print(out)
		for _, t := range rep.Tables {
			switch {
			case slices.Contains(lost, t.Table):
				if t.Found != 0 {
					problems = append(problems, fmt.Sprintf("%s on %s: %d rows, want none (its source failed for good)", t.Table, d, t.Found))
				}
			case slices.Contains(degraded, t.Table):
				if want := t.Expected - unmade[t.Table]; t.Found != want {
					problems = append(problems, fmt.Sprintf("%s on %s: %d rows, want %d (the truth's %d, less %d the lost input alone makes)",
						t.Table, d, t.Found, want, t.Expected, unmade[t.Table]))
				}
			case !t.OK():
				problems = append(problems, fmt.Sprintf("%s on %s differs from the ground truth", t.Table, d))
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return problems, nil
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "no other table"
	}
	return strings.Join(xs, ", ")
}

// naturalKeys are the columns that identify a row of each table: the keys infra/verify
// matches rows on. A key that occurs twice is a row written twice.
var naturalKeys = []struct {
	table string
	cols  []string
	// dated says the table has game_date, so the check covers the range only.
	dated bool
}{
	{"nba_raw.nbac_schedule", []string{"game_id"}, true},
	{"nba_raw.nbac_player_boxscores", []string{"game_id", "player_lookup"}, true},
	{"nba_raw.bdl_player_boxscores", []string{"game_id", "player_lookup"}, true},
	{"nba_raw.odds_api_player_points_props", []string{"odds_api_event_id", "snapshot_timestamp", "bookmaker", "player_lookup"}, true},
	{"nba_reference.player_registry", []string{"player_lookup"}, false},
	{"nba_analytics.team_offense_game_summary", []string{"game_id", "team_abbr"}, true},
	{"nba_analytics.player_game_summary", []string{"game_id", "player_lookup"}, true},
}

// duplicateKeys queries every table for natural keys that occur more than once.
func duplicateKeys(ctx context.Context, bq *bigquery.Client, from, to string) ([]string, error) {
	var problems []string
	for _, t := range naturalKeys {
		cols := strings.Join(t.cols, ", ")
		where := ""
		if t.dated {
			where = "WHERE game_date BETWEEN CAST(@from AS DATE) AND CAST(@to AS DATE)"
		}
		q := bq.Query(fmt.Sprintf("SELECT %s, COUNT(*) AS n FROM %s %s GROUP BY %s HAVING COUNT(*) > 1 ORDER BY n DESC LIMIT 5", cols, t.table, where, cols))
		q.Parameters = []bigquery.QueryParameter{{Name: "from", Value: from}, {Name: "to", Value: to}}
		it, err := q.Read(ctx)
		if err != nil {
			return nil, fmt.Errorf("duplicate keys of %s: %w", t.table, err)
		}
		for {
			var row []bigquery.Value
			err := it.Next(&row)
			if err == iterator.Done {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("duplicate keys of %s: %w", t.table, err)
			}
			var parts []string
			for i, c := range t.cols {
				parts = append(parts, fmt.Sprintf("%s=%v", c, row[i]))
			}
			problems = append(problems, fmt.Sprintf("%s: key (%s) occurs %v times", t.table, strings.Join(parts, ", "), row[len(row)-1]))
		}
	}
	return problems, nil
}

// deadLetterReport is the comparison of the dead-letter store with what must be in it.
type deadLetterReport struct {
	Poison, Permanent int
	// Unexpected are the dead letters that are neither poison nor of a dead end.
	Unexpected []ledger.DeadLetterSummary
	Problems   []string
}

// checkDeadLetters compares the store (_deadletters/) with the poison messages, which must
// each be there once with their reason and their chaos_poison attribute, and the dead
// ends (planted failures and files broken at the source), which must each have at least
// one dead letter with one of their reasons (every copy of the message can start a new
// effort). Anything else is a problem.
func checkDeadLetters(ctx context.Context, led *ledger.Ledger, poison, poisonKind map[string]string, ends []deadEnd) (deadLetterReport, error) {
	var rep deadLetterReport
	all, err := led.ListDeadLetters(ctx, time.Time{})
	if err != nil {
		return rep, err
	}
	found := map[string]bool{}
	permSeen := map[key]int{}
	for _, d := range all {
		if want, ok := poison[d.MessageID]; ok {
			found[d.MessageID] = true
			rep.Poison++
			if d.Reason != want {
				rep.Problems = append(rep.Problems, fmt.Sprintf("poison %s (message %s): reason %q, want %q", poisonKind[d.MessageID], d.MessageID, d.Reason, want))
			}
			full, err := led.GetDeadLetter(ctx, d.MessageID)
			if err != nil {
				return rep, err
			}
			if full.Attributes[PoisonAttr] != poisonKind[d.MessageID] {
				rep.Problems = append(rep.Problems, fmt.Sprintf("poison %s (message %s): the kept message lost its %s attribute", poisonKind[d.MessageID], d.MessageID, PoisonAttr))
			}
			continue
		}
		matched := false
		for _, p := range ends {
			if d.Phase == string(p.ref.Phase) && d.Job == p.ref.Job && d.Date == p.date {
				matched = true
				permSeen[p.key]++
				rep.Permanent++
				if !slices.Contains(p.reasons, d.Reason) {
					rep.Problems = append(rep.Problems, fmt.Sprintf("%s %s: dead letter %s with reason %q, want %s (%s)",
						p.ref, p.date, d.MessageID, d.Reason, strings.Join(p.reasons, " or "), d.Error))
				}
			}
		}
		if !matched {
			rep.Unexpected = append(rep.Unexpected, d)
		}
	}
	var missing []string
	for id := range poison {
		if !found[id] {
			missing = append(missing, fmt.Sprintf("poison %s (message %s) is not in the dead-letter store", poisonKind[id], id))
		}
	}
	sort.Strings(missing)
	rep.Problems = append(rep.Problems, missing...)
	for _, p := range ends {
		if permSeen[p.key] == 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s %s: no dead letter, want one with reason %s", p.ref, p.date, strings.Join(p.reasons, " or ")))
		}
	}
	return rep, nil
}

// storedPoison counts the poison messages already in the dead-letter store.
func storedPoison(ctx context.Context, led *ledger.Ledger, poison map[string]string) (int, error) {
	all, err := led.ListDeadLetters(ctx, time.Time{})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range all {
		if _, ok := poison[d.MessageID]; ok {
			n++
		}
	}
	return n, nil
}

// logScan is what the consumers' logs say: the lines that hold a secret, the lines read,
// and how many times each message was handled on each subscription.
type logScan struct {
	leaks   []string
	lines   int
	handled map[handledKey]int
}

type handledKey struct{ subscription, messageID string }

// handledLine is the part of a consumer's log line about one delivery it handled.
type handledLine struct {
	Outcome      string `json:"outcome"`
	Subscription string `json:"subscription"`
	MessageID    string `json:"message_id"`
}

// scanLogs reads every line of the files once: which hold one of the secrets, and which
// say a delivery was handled (they carry an outcome, a subscription and a message id).
func scanLogs(files []string, secrets []string) (logScan, error) {
	scan := logScan{handled: map[handledKey]int{}}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return logScan{}, err
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		n := 0
		for sc.Scan() {
			n++
			scan.lines++
			for _, s := range secrets {
				if strings.Contains(sc.Text(), s) {
					scan.leaks = append(scan.leaks, fmt.Sprintf("%s:%d: %s", f, n, truncate(sc.Text(), 300)))
				}
			}
			var h handledLine
			if json.Unmarshal(sc.Bytes(), &h) == nil && h.Outcome != "" && h.Subscription != "" && h.MessageID != "" {
				scan.handled[handledKey{h.Subscription, h.MessageID}]++
			}
		}
		err = sc.Err()
		fh.Close()
		if err != nil {
			return logScan{}, fmt.Errorf("%s: %w", f, err)
		}
	}
	return scan, nil
}

// maxHandled bounds how many times a message may be handled on one subscription: a job
// subscription's dead-letter policy takes a message after topology.MaxDeliveryAttempts
// deliveries, and kills and faulted acknowledgements add a few more. Beyond twice that,
// something delivers it in a loop (an emulator forwarding a dead letter again and again).
const maxHandled = 2 * topology.MaxDeliveryAttempts

// mostHandled is the most times one message was handled on one subscription, and the
// deliveries handled in all.
func (s logScan) mostHandled() (most, all int) {
	for _, n := range s.handled {
		most, all = max(most, n), all+n
	}
	return most, all
}

// redeliveryLoops names each message handled more than maxHandled times on a subscription,
// most handled first. Logs with lines but no handled delivery say the check cannot see
// them (the log lines changed shape).
func (s logScan) redeliveryLoops() []string {
	if s.lines > 0 && len(s.handled) == 0 {
		return []string{fmt.Sprintf("none of %d consumer log lines says a delivery was handled (outcome, subscription, message_id): the redelivery check cannot read them", s.lines)}
	}
	var keys []handledKey
	for k, n := range s.handled {
		if n > maxHandled {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if a, b := s.handled[keys[i]], s.handled[keys[j]]; a != b {
			return a > b
		}
		return keys[i].messageID < keys[j].messageID
	})
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("message %s handled %d times on %s (at most %d expected): it is delivered in a loop",
			k.messageID, s.handled[k], k.subscription, maxHandled))
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
