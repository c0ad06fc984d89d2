package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// make bench over two dates, the instant row only, with --profile: it exits 0, every table
// matches the ground truth, the last line is the summary in its exact format, and the
// profiles are written, the CPU's one per stage.
func TestBenchPrintsTheTableAndTheSummary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and runs the pipeline: not with -short")
	}
	var out, errb bytes.Buffer
	prof := t.TempDir()
	code := run(context.Background(), []string{"--range", "2024-10-22..2024-10-23", "--skip", "realistic,enqueue,runtime,scaling", "--profile", prof}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	text := out.String()
	for _, want := range []string{"1 instant: pipeline", "every table equals the ground truth", "1 instant: sequential", "5 memory: consumers"} {
		if !strings.Contains(text, want) {
			t.Errorf("the table lacks %q:\n%s", want, text)
		}
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	summary := regexp.MustCompile(`^bench: instant \d+\.\ds vs sequential \d+\.\ds \(ratio \d+\.\d\d\); realistic \d+\.\ds = \d+% of floor \d+\.\ds; enqueue \d+ msg/s; consumers \d+ MiB; per-date spread \d+\.\d\d$`)
	if last := lines[len(lines)-1]; !summary.MatchString(last) {
		t.Errorf("last line %q is not the summary in its format", last)
	}
	for _, name := range []string{"cpu-setup.pprof", "cpu-instant-pipeline.pprof", "cpu-instant-sequential.pprof",
		"consumers-cpu-2-dates.pprof", "heap-2-dates.pprof", "allocs.pprof", "mutex.pprof", "block.pprof"} {
		b, err := os.ReadFile(filepath.Join(prof, name))
		if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b { // pprof's gzipped protobuf
			t.Errorf("--profile: %s is not a profile (%d bytes, %v)", name, len(b), err)
		}
	}
}

// Without the instant row there is no run whose memory the memory rows could give: they are
// left out rather than filled with the bench process's own peak before any stack ran.
func TestBenchWithoutTheInstantRowPrintsNoMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries: not with -short")
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--range", "2024-10-22..2024-10-23", "--skip", "instant,realistic,enqueue,runtime,scaling"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if text := out.String(); strings.Contains(text, "5 memory") {
		t.Errorf("the table has a memory row without an instant run:\n%s", text)
	}
}
