package runner_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/runner"
)

func TestOutputFingerprint(t *testing.T) {
	t.Parallel()
	objs := []runner.Object{{Bucket: "b", Name: "x/1.json", Generation: 7}, {Bucket: "b", Name: "x/2.json", Generation: 9}}
	base := runner.Result{Objects: objs, Rows: map[string]int64{"2024-10-22": 240}}
	fp := runner.OutputFingerprint(base, "in")
	for _, tc := range []struct {
		name string
		res  runner.Result
		in   string
		same bool
	}{
		{"objects in another order", runner.Result{Objects: []runner.Object{objs[1], objs[0]}, Rows: base.Rows}, "in", true},
		{"metrics do not count", runner.Result{Objects: objs, Rows: base.Rows, Metrics: map[string]int64{"pages": 3}}, "in", true},
		{"a rewritten object", runner.Result{Objects: []runner.Object{objs[0], {Bucket: "b", Name: "x/2.json", Generation: 10}}, Rows: base.Rows}, "in", false},
		{"one object more", runner.Result{Objects: append(objs[:2:2], runner.Object{Bucket: "b", Name: "x/3.json", Generation: 1}), Rows: base.Rows}, "in", false},
		{"other rows", runner.Result{Objects: objs, Rows: map[string]int64{"2024-10-22": 241}}, "in", false},
		{"other input", base, "in2", false},
		{"empty", runner.Result{Objects: objs, Rows: base.Rows, Empty: true}, "in", false},
		{"set by the job", runner.Result{Objects: objs, Rows: base.Rows, Fingerprint: "job-says"}, "in", false},
	} {
		got := runner.OutputFingerprint(tc.res, tc.in)
		if (got == fp) != tc.same {
			t.Errorf("%s: fingerprint equal to the base = %v, want %v", tc.name, got == fp, tc.same)
		}
	}
	if got := runner.OutputFingerprint(runner.Result{Fingerprint: "job-says"}, "in"); got != "job-says" {
		t.Errorf("Result.Fingerprint not used: %q", got)
	}
}

func TestInputFingerprint(t *testing.T) {
	t.Parallel()
	if got := runner.InputFingerprint(nil); got != "" {
		t.Errorf("no upstreams: %q, want empty", got)
	}
	a := runner.InputFingerprint(map[string]string{"scrapers/a1": "x", "scrapers/b1": "y"})
	b := runner.InputFingerprint(map[string]string{"scrapers/a1": "x", "scrapers/b1": "z"})
	c := runner.InputFingerprint(map[string]string{"scrapers/a1": "x"})
	if a == b || a == c || len(a) != 64 {
		t.Errorf("fingerprints %q %q %q: want distinct 64-hex values", a, b, c)
	}
}

func TestLogHandlerCloudLoggingShape(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(runner.NewLogHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	log.Debug("d")
	log.Info("i", "elapsed", 1250*time.Millisecond)
	log.Warn("w", "err", errors.New("boom"))
	log.Error("e")
	var got []string
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		if _, ok := m["level"]; ok {
			t.Errorf("line keeps slog's level key: %s", l)
		}
		got = append(got, fmt.Sprintf("%v %v %v", m["severity"], m["message"], m["elapsed"]))
	}
	want := []string{"DEBUG d <nil>", "INFO i 1.250s", "WARNING w <nil>", "ERROR e <nil>"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}
