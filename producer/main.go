// Command producer turns a backfill or a daily run into one Pub/Sub message per (job, date)
// on the phase topics, skipping what the ledger says is already done, and shows where every
// (job, date) stands.
//
//	producer plan --phase scrapers --job all --start-date 2024-10-22 --end-date 2024-10-28
//	producer enqueue --phase raw --job bdl_player_boxscores --start-date 2024-10-22 --end-date 2024-10-28
//	producer status --job all --start-date 2024-10-22 --end-date 2024-10-28
//	producer retry --run RUN_ID
//	producer cancel --run RUN_ID
//	producer dlq list
//	producer daily
//	producer jobs
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sethvargo/go-envconfig"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, envconfig.OsLookuper())
	stop()
	os.Exit(code)
}
