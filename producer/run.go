package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nba-props/pipeline/infra/cloud"

	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
	"github.com/spf13/cobra"
)

// Exit codes: 2 means the command line or the environment was wrong, 1 that the work failed.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError marks an error the user fixes by changing the command or the environment.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// withEnv is a command's help text followed by the environment it reads: cloud.Env,
// which the producer embeds, without BIGQUERY_EMULATOR_HOST (the producer uses no
// BigQuery). Generated from the struct, so the help cannot drift from what is read.
func withEnv(text string) string {
	return text + "\n\n" + strings.TrimRight(cloud.EnvUsage(cloud.BigQueryEmulatorEnv), "\n")
}

// plural is n with word, in the singular for 1: "1 message", "3 messages", "1,600 dates".
func plural[N int | int64](n N, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return thousands(float64(n)) + " " + word + "s"
}

// output says what a finished (job, date) wrote, in its phase's unit: a scraper writes
// objects (raw files in GCS), every later phase writes rows (BigQuery). Enqueue and status
// both say it this way.
func output(phase messages.Phase, rows int64, objects int) string {
	if phase == messages.PhaseScrapers {
		return plural(objects, "object")
	}
	return plural(rows, "row")
}

// env is what every command needs besides its flags.
type env struct {
	stdout, stderr io.Writer
	lookuper       envconfig.Lookuper
	catalog        *messages.Catalog
	today          func() string
}

// run is main without the process: tests call it with their own arguments, writers and
// environment.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, l envconfig.Lookuper) int {
	return runWith(ctx, args, &env{stdout: stdout, stderr: stderr, lookuper: l, catalog: messages.DefaultCatalog(), today: today})
}

func runWith(ctx context.Context, args []string, e *env) int {
	const short = "Enqueue (job, date) work for the NBA props pipeline and show its status"
	root := &cobra.Command{
		Use:           "producer",
		Short:         short,
		Long:          withEnv(short + "."),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// An error before a command's RunE started (unknown command, bad flag) is a usage error.
	started := false
	root.PersistentPreRun = func(*cobra.Command, []string) { started = true }
	root.AddCommand(enqueueCmd(e), statusCmd(e), jobsCmd(e))
	root.AddCommand(planCmd(e))
	root.AddCommand(cancelCmd(e))
	root.AddCommand(retryCmd(e))
	root.AddCommand(dlqCmd(e))
	root.AddCommand(dailyCmd(e))
	root.SetArgs(args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(e.stderr, "producer: %v\n", err)
	var u usageError
	if errors.As(err, &u) || !started {
		return exitUsage
	}
	return exitError
}
