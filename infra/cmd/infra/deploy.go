package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"cloud.google.com/go/bigquery"
	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/pubsub/v2"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	runapi "cloud.google.com/go/run/apiv2"
	scheduler "cloud.google.com/go/scheduler/apiv1"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/storage"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/deploy"
	"github.com/nba-props/pipeline/messages"
	"github.com/spf13/cobra"
)

// deployFlags are the flags of infra deploy.
type deployFlags struct {
	project, region, env string
	images               []string
	plan, offline        bool
}

// deployCommand is infra deploy: plan or apply every Google Cloud resource of an
// environment (package deploy).
func deployCommand() *cobra.Command {
	var f deployFlags
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Plan or apply every Google Cloud resource of an environment: services, producer job, schedules, accounts, grants, topology",
		Long: `Deploy the pipeline to a Google Cloud project from the job catalogue, its deployment
settings and the environment's reviewed file (infra/deploy/environments/ENV.json): one Cloud
Run service per phase, the producer as a Cloud Run job, Cloud Scheduler's daily lane and
/reconcile calls, service accounts with least-privilege grants, secrets (without values),
topics, push subscriptions, the bucket, datasets and tables. Applying twice changes nothing.

Uses application default credentials (gcloud auth application-default login).
docs/deploy.md is the guide: APIs to enable, roles the deployer needs, first deploy,
backfill, rollback.`,
		Example: `  go run ./infra/cmd/infra deploy --plan --offline --project demo-project --region us-west2 --env dev
  go run ./infra/cmd/infra deploy --plan --project my-proj --region us-west2 --env dev
  go run ./infra/cmd/infra deploy --project my-proj --region us-west2 --env dev \
      --image-digest consumers=sha256:...,producer=sha256:...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return deployCmd(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.project, "project", "", "Google Cloud project `ID` (one project per environment)")
	fl.StringVar(&f.region, "region", "", "`region` of the services, job and schedules, such as us-west2")
	fl.StringVar(&f.env, "env", "", "environment: "+strings.Join(deploy.Environments(), " or ")+" (infra/deploy/environments/ENV.json)")
	fl.StringSliceVar(&f.images, "image-digest", nil, "image of a binary by digest, `BINARY=sha256:HEX` (in the environment's repository) or "+
		"BINARY=REPO/BINARY@sha256:HEX, for consumers and producer (repeat or comma-separate); a binary left out keeps what runs")
	fl.BoolVar(&f.plan, "plan", false, "print what would be created or updated, with the fields that differ, and change nothing")
	fl.BoolVar(&f.offline, "offline", false, "with --plan: print the whole plan without contacting Google Cloud (every resource as to create)")
	return cmd
}

func deployCmd(ctx context.Context, w io.Writer, f deployFlags) error {
	switch {
	case f.project == "" || f.region == "" || f.env == "":
		return fmt.Errorf("%w: deploy needs --project, --region and --env (%s)", cloud.ErrEnv, strings.Join(deploy.Environments(), " or "))
	case f.offline && !f.plan:
		return fmt.Errorf("%w: --offline only plans: add --plan", cloud.ErrEnv)
	}
	cat := messages.DefaultCatalog()
	env, err := deploy.LoadEnvironment(f.env, cat)
	if err != nil {
		return fmt.Errorf("%w: %w", cloud.ErrEnv, err)
	}
	repo := strings.NewReplacer("{project}", f.project, "{region}", f.region).Replace(env.Repository)
	images, err := deploy.ParseImages(f.images, repo)
	if err != nil {
		return fmt.Errorf("%w: %w", cloud.ErrEnv, err)
	}
	o := deploy.Options{Project: f.project, Region: f.region, Environment: env, Catalog: cat, Images: images, Plan: f.plan, Offline: f.offline}
	var c deploy.Clients
	if !f.offline {
		closeAll, err := connectDeploy(ctx, f.project, &c)
		defer closeAll()
		if err != nil {
			return err
		}
	}
	what := "apply"
	if f.plan {
		what = "plan"
	}
	fmt.Fprintf(w, "%s: project %s, region %s, environment %s (%s)\n\n", what, f.project, f.region, env.Name, env.Description)
	rep, err := deploy.Run(ctx, c, o)
	fmt.Fprint(w, rep)
	if err != nil {
		var pe *deploy.PermissionError
		if errors.As(err, &pe) {
			return err
		}
		if errors.Is(err, deploy.ErrEnvironment) {
			return fmt.Errorf("%w: %w", cloud.ErrEnv, err)
		}
		return fmt.Errorf("deploy to project %s: %w", f.project, err)
	}
	return nil
}

// connectDeploy opens one client per API with application default credentials.
func connectDeploy(ctx context.Context, project string, c *deploy.Clients) (func(), error) {
	var closers []func() error
	closeAll := func() {
		for _, cl := range closers {
			_ = cl()
		}
	}
	var err error
	open := func(name string, f func() (io.Closer, error)) {
		if err != nil {
			return
		}
		var cl io.Closer
		if cl, err = f(); err != nil {
			err = fmt.Errorf("%s client: %w (are application default credentials set? gcloud auth application-default login)", name, err)
			return
		}
		closers = append(closers, cl.Close)
	}
	open("resource manager", func() (io.Closer, error) { v, e := resourcemanager.NewProjectsClient(ctx); c.Projects = v; return v, e })
	open("iam", func() (io.Closer, error) { v, e := admin.NewIamClient(ctx); c.IAM = v; return v, e })
	open("secret manager", func() (io.Closer, error) { v, e := secretmanager.NewClient(ctx); c.Secrets = v; return v, e })
	open("cloud run services", func() (io.Closer, error) { v, e := runapi.NewServicesClient(ctx); c.Services = v; return v, e })
	open("cloud run jobs", func() (io.Closer, error) { v, e := runapi.NewJobsClient(ctx); c.Jobs = v; return v, e })
	open("cloud scheduler", func() (io.Closer, error) {
		v, e := scheduler.NewCloudSchedulerClient(ctx)
		c.Scheduler = v
		return v, e
	})
	open("pubsub", func() (io.Closer, error) { v, e := pubsub.NewClient(ctx, project); c.PubSub = v; return v, e })
	open("storage", func() (io.Closer, error) { v, e := storage.NewClient(ctx); c.Storage = v; return v, e })
	open("bigquery", func() (io.Closer, error) { v, e := bigquery.NewClient(ctx, project); c.BigQuery = v; return v, e })
	return closeAll, err
}
