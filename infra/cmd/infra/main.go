// Command infra applies the pipeline's declared topology (infra/topology) to the emulators
// or to a real project: topics, subscriptions with their filters, retry and dead-letter
// policies, the bucket, and the BigQuery datasets and tables. Running it twice changes
// nothing the second time.
//
//	go run ./infra/cmd/infra apply                      # against the emulators in the environment
//	GOOGLE_CLOUD_PROJECT=my-proj go run ./infra/cmd/infra apply --location US
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"cloud.google.com/go/bigquery"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
	"github.com/spf13/cobra"
)

type config struct {
	Project              string `env:"GOOGLE_CLOUD_PROJECT"`
	PubSubEmulatorHost   string `env:"PUBSUB_EMULATOR_HOST"`
	StorageEmulatorHost  string `env:"STORAGE_EMULATOR_HOST"`
	BigQueryEmulatorHost string `env:"BIGQUERY_EMULATOR_HOST"`
	Bucket               string `env:"GCS_BUCKET, default=nba-props-local"`
	Prefix               string `env:"NBA_ENV_PREFIX"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, envconfig.OsLookuper())
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, l envconfig.Lookuper) int {
	var location string
	var noBigQuery bool
	root := &cobra.Command{Use: "infra", Short: "Apply the pipeline topology", SilenceUsage: true, SilenceErrors: true}
	apply := &cobra.Command{
		Use:   "apply",
		Short: "Create or update the topics, subscriptions, bucket, datasets and tables",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cfg config
			if err := envconfig.ProcessWith(cmd.Context(), &envconfig.Config{Target: &cfg, Lookuper: l}); err != nil {
				return fmt.Errorf("reading the environment: %w", err)
			}
			return applyCmd(cmd.Context(), stdout, cfg, location, noBigQuery)
		},
	}
	apply.Flags().StringVar(&location, "location", "", `location of a new bucket and datasets ("US" in production)`)
	apply.Flags().BoolVar(&noBigQuery, "no-bigquery", false, "skip the BigQuery datasets and tables")
	root.AddCommand(apply, imageCommand())
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "infra: %v\n", err)
		return 1
	}
	return 0
}

func applyCmd(ctx context.Context, w io.Writer, cfg config, location string, noBigQuery bool) error {
	local := cfg.PubSubEmulatorHost != ""
	switch {
	case !local && cfg.Project == "":
		return errors.New("no project or emulator configured: set GOOGLE_CLOUD_PROJECT for a real project, or PUBSUB_EMULATOR_HOST and STORAGE_EMULATOR_HOST for the local stack")
	case local && cfg.StorageEmulatorHost == "":
		return errors.New("PUBSUB_EMULATOR_HOST is set but STORAGE_EMULATOR_HOST is not: set both for the local stack, or neither for a real project")
	case cfg.Project == "":
		cfg.Project = "nba-props-local"
	}
	ps, err := cloud.PubSubAt(ctx, cfg.Project, cfg.PubSubEmulatorHost)
	if err != nil {
		return err
	}
	defer ps.Close()
	gcs, err := cloud.Storage(ctx, cfg.StorageEmulatorHost)
	if err != nil {
		return err
	}
	defer gcs.Close()
	var bq *bigquery.Client
	switch {
	case noBigQuery:
	case local && cfg.BigQueryEmulatorHost == "":
		fmt.Fprintln(w, "BIGQUERY_EMULATOR_HOST is not set: skipping the BigQuery datasets and tables")
	default:
		if bq, err = cloud.BigQuery(ctx, cfg.Project, cfg.BigQueryEmulatorHost); err != nil {
			return err
		}
		defer bq.Close()
	}
	r, err := topology.Apply(ctx, topology.Clients{PubSub: ps, Storage: gcs, BigQuery: bq}, topology.Options{
		Catalog:  messages.DefaultCatalog(),
		Names:    messages.Names{Prefix: cfg.Prefix},
		Bucket:   cfg.Bucket,
		Location: location,
	})
	fmt.Fprint(w, r)
	if err != nil {
		return fmt.Errorf("apply to project %s: %w", cfg.Project, err)
	}
	return nil
}
