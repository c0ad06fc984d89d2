package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/nba-props/pipeline/infra/bench/runtimebench"
)

// BenchmarkRuntime pushes the same number of messages (10,000; 1,000 with -short) through
// a bare receive-and-ack loop and through the runtime with a no-op job (decode, ledger
// claim and record, ack) on one emulator set-up with the same streams and concurrency,
// and reports the time per message of each, the runtime's overhead and the ratio. The
// measurement is runtimebench's, the one make bench prints.
//
//	go test -run '^$' -bench Runtime -benchtime 1x ./consumers/runner/
func BenchmarkRuntime(b *testing.B) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	for range b.N {
		r, err := runtimebench.Measure(context.Background(), n)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.PerBare, "bare-ms/msg")
		b.ReportMetric(r.PerRuntime, "runtime-ms/msg")
		b.ReportMetric(r.Overhead, "overhead-ms/msg")
		b.ReportMetric(r.PerRuntime/r.PerBare, "ratio")
		b.ReportMetric(float64(r.Redeliveries), "redeliveries")
		b.Logf("%d messages, %d streams, %d concurrent: bare %s (%.0f msg/s), runtime %s (%.0f msg/s)",
			n, runtimebench.Streams, runtimebench.Concurrency, r.Bare.Round(time.Millisecond), float64(n)/r.Bare.Seconds(),
			r.Runtime.Round(time.Millisecond), float64(n)/r.Runtime.Seconds())
	}
}
