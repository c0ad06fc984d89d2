// Command infra applies the pipeline's declared topology (infra/topology) to the emulators
// or to a real project: topics, subscriptions with their filters, retry and dead-letter
// policies, the bucket, and the BigQuery datasets and tables. Running it twice changes
// nothing the second time.
//
//	go run ./infra/cmd/infra apply                      # against the emulators in the environment
//	GOOGLE_CLOUD_PROJECT=my-proj GCS_BUCKET=my-bucket go run ./infra/cmd/infra apply --location US
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"cloud.google.com/go/bigquery"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
	"github.com/spf13/cobra"
)

// config is the environment of infra apply: the project (or emulators) to apply to.
type config struct {
	cloud.Env
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, envconfig.OsLookuper())
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, l envconfig.Lookuper) int {
	var location, pushAccount string
	var noBigQuery bool
	var pushURLs []string
	root := &cobra.Command{Use: "infra", Short: "Apply the pipeline topology", SilenceUsage: true, SilenceErrors: true}
	apply := &cobra.Command{
		Use:   "apply",
		Short: "Create or update the topics, subscriptions, bucket, datasets and tables",
		Long: "Create or update the topics, subscriptions, bucket, datasets and tables.\n\n" +
			cloud.EnvUsage() + "  (with PUBSUB_EMULATOR_HOST set and no BIGQUERY_EMULATOR_HOST, the BigQuery part is skipped)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cfg config
			if err := envconfig.ProcessWith(cmd.Context(), &envconfig.Config{Target: &cfg, Lookuper: l}); err != nil {
				return fmt.Errorf("%w: reading the environment: %w", cloud.ErrEnv, err)
			}
			if err := cfg.Resolve(); err != nil {
				return err
			}
			if err := cfg.Reach(cmd.Context()); err != nil {
				return err
			}
			push, err := pushOptions(pushURLs, pushAccount)
			if err != nil {
				return err
			}
			return applyCmd(cmd.Context(), stdout, cfg, location, noBigQuery, push)
		},
	}
	apply.Flags().StringSliceVar(&pushURLs, "push-url", nil, "make the subscriptions push to the consumer services: `URL` of the service for every phase, "+
		"or phase=URL for one phase (repeat or comma-separate); dead letters go to the service without a phase (default: pull subscriptions)")
	apply.Flags().StringVar(&pushAccount, "push-account", "", "service account `email` the push subscriptions sign their OIDC tokens as (with --push-url)")
	apply.Flags().StringVar(&location, "location", "", `location of a new bucket and datasets ("US" in production)`)
	apply.Flags().BoolVar(&noBigQuery, "no-bigquery", false, "skip the BigQuery datasets and tables")
	root.AddCommand(apply, imageCommand(), deployCommand())
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	// An error before the command ran (unknown command, bad flag) or a bad environment is
	// the user's to fix: exit 2, as the other binaries do.
	started := false
	root.PersistentPreRun = func(*cobra.Command, []string) { started = true }
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "infra: %v\n", err)
		if !started || errors.Is(err, cloud.ErrEnv) {
			return 2
		}
		return 1
	}
	return 0
}

// pushOptions reads --push-url and --push-account: nil without --push-url (pull).
func pushOptions(urls []string, account string) (*topology.Push, error) {
	if len(urls) == 0 {
		if account != "" {
			return nil, fmt.Errorf("%w: --push-account needs --push-url", cloud.ErrEnv)
		}
		return nil, nil
	}
	if account == "" {
		return nil, fmt.Errorf("%w: --push-url needs --push-account, the service account the subscriptions sign their tokens as", cloud.ErrEnv)
	}
	def := ""
	byPhase := map[messages.Phase]string{}
	for _, u := range urls {
		phase, url, ok := strings.Cut(u, "=")
		if !ok {
			def = u
			continue
		}
		p, err := messages.ParsePhase(phase)
		if err != nil {
			return nil, fmt.Errorf("%w: --push-url %s: %w", cloud.ErrEnv, u, err)
		}
		byPhase[p] = url
	}
	for _, p := range messages.Phases() {
		if byPhase[p] == "" && def == "" {
			return nil, fmt.Errorf("%w: --push-url gives no service for phase %s: add a URL without a phase for the rest", cloud.ErrEnv, p)
		}
	}
	if def == "" {
		return nil, fmt.Errorf("%w: --push-url needs a URL without a phase for the dead-letter subscription", cloud.ErrEnv)
	}
	return &topology.Push{ServiceAccount: account, DeadLetterURL: def, ServiceURL: func(p messages.Phase) string {
		if u := byPhase[p]; u != "" {
			return u
		}
		return def
	}}, nil
}

func applyCmd(ctx context.Context, w io.Writer, cfg config, location string, noBigQuery bool, push *topology.Push) error {
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
	case cfg.Local() && cfg.BigQueryEmulatorHost == "":
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
		Push:     push,
	})
	fmt.Fprint(w, r)
	if err != nil {
		return fmt.Errorf("apply to project %s: %w", cfg.Project, err)
	}
	return nil
}
