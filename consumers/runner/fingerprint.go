package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"

	"github.com/nba-props/pipeline/consumers/ledger"
)

// InputFingerprint hashes the output fingerprints of the upstream records a run reads
// (keyed "phase/job"). A job without upstreams has the empty input fingerprint.
func InputFingerprint(inputs map[string]string) string {
	if len(inputs) == 0 {
		return ""
	}
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(inputs)) {
		fmt.Fprintf(h, "%s=%s\n", k, inputs[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// OutputFingerprint identifies what a run produced: Result.Fingerprint when the job set
// it, otherwise a hash of the objects with their generations, the rows per partition, the
// empty flag and the input fingerprint. Rewriting identical bytes keeps an object's
// generation, so an unchanged scrape gives an unchanged fingerprint downstream.
func OutputFingerprint(res Result, inputFingerprint string) string {
	if res.Fingerprint != "" {
		return res.Fingerprint
	}
	h := sha256.New()
	io.WriteString(h, "empty="+strconv.FormatBool(res.Empty)+"\n")
	for _, m := range slices.Sorted(slices.Values(res.Missing)) {
		io.WriteString(h, "missing "+m+"\n")
	}
	objs := make([]string, 0, len(res.Objects))
	for _, o := range res.Objects {
		objs = append(objs, fmt.Sprintf("object %s/%s#%d\n", o.Bucket, o.Name, o.Generation))
	}
	slices.Sort(objs)
	for _, o := range objs {
		io.WriteString(h, o)
	}
	for _, p := range slices.Sorted(maps.Keys(res.Rows)) {
		fmt.Fprintf(h, "rows %s=%d\n", p, res.Rows[p])
	}
	io.WriteString(h, "input="+inputFingerprint+"\n")
	return hex.EncodeToString(h.Sum(nil))
}

func toOutput(res Result) ledger.Output {
	return ledger.Output{Objects: slices.Clone(res.Objects), Missing: slices.Clone(res.Missing), Rows: maps.Clone(res.Rows), Metrics: maps.Clone(res.Metrics)}
}

// RunInfo is what the runtime knows about the run a Job is in, for jobs that name their
// side effects after it (a BigQuery job id with the first 16 hex of the input fingerprint).
type RunInfo struct {
	// Attempt is 1 for the first run of an effort on the date.
	Attempt int
	// Failures counts the runs of the effort before this one that ended in a recorded
	// failure. Unlike Attempt-1 it leaves out a run whose consumer died before recording
	// its end, which may never have reached its source.
	Failures int
	// InputFingerprint is the hash of the upstream outputs this run reads ("" for a job
	// without upstreams).
	InputFingerprint string
	// Inputs maps each upstream read ("phase/job") to its output fingerprint.
	Inputs map[string]string
	// Lane is the request's lane: a job sharing a limited resource (a source's rate) lets
	// the daily lane go first.
	Lane string
}

type runInfoKey struct{}

// Info returns the RunInfo of the run ctx belongs to; ok is false outside the runtime (a
// job called directly by a test).
func Info(ctx context.Context) (info RunInfo, ok bool) {
	info, ok = ctx.Value(runInfoKey{}).(RunInfo)
	return info, ok
}

// WithInfo returns ctx carrying info: what the runtime passes to Job.Run, and what a test
// of a job can use to run it as the runtime would.
func WithInfo(ctx context.Context, info RunInfo) context.Context {
	return context.WithValue(ctx, runInfoKey{}, info)
}
