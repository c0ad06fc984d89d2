package gcpfake

import (
	"context"
	"errors"
	"io"

	admin "cloud.google.com/go/iam/admin/apiv1"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	run "cloud.google.com/go/run/apiv2"
	scheduler "cloud.google.com/go/scheduler/apiv1"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/deploy"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Options are the client options that point an official gRPC client at the fake.
func (f *Fake) Options() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(f.grpcAddr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))}
}

// Clients connects deploy's clients to the fake: every API but BigQuery, which deploy
// then skips (the datasets, tables and dataset grants).
func (f *Fake) Clients(ctx context.Context) (deploy.Clients, func() error, error) {
	var c deploy.Clients
	var closers []io.Closer
	closeAll := func() error {
		var errs []error
		for _, cl := range closers {
			errs = append(errs, cl.Close())
		}
		return errors.Join(errs...)
	}
	var err error
	step := func(open func() (io.Closer, error)) {
		if err != nil {
			return
		}
		var cl io.Closer
		if cl, err = open(); err == nil {
			closers = append(closers, cl)
		}
	}
	o := f.Options()
	step(func() (io.Closer, error) {
		v, e := resourcemanager.NewProjectsClient(ctx, o...)
		c.Projects = v
		return v, e
	})
	step(func() (io.Closer, error) { v, e := admin.NewIamClient(ctx, o...); c.IAM = v; return v, e })
	step(func() (io.Closer, error) { v, e := secretmanager.NewClient(ctx, o...); c.Secrets = v; return v, e })
	step(func() (io.Closer, error) { v, e := run.NewServicesClient(ctx, o...); c.Services = v; return v, e })
	step(func() (io.Closer, error) { v, e := run.NewJobsClient(ctx, o...); c.Jobs = v; return v, e })
	step(func() (io.Closer, error) {
		v, e := scheduler.NewCloudSchedulerClient(ctx, o...)
		c.Scheduler = v
		return v, e
	})
	step(func() (io.Closer, error) {
		v, e := cloud.PubSubAt(ctx, f.Project, f.pubsub.Addr)
		c.PubSub = v
		return v, e
	})
	step(func() (io.Closer, error) { v, e := cloud.Storage(ctx, f.gcsURL); c.Storage = v; return v, e })
	if err != nil {
		_ = closeAll()
		return deploy.Clients{}, nil, err
	}
	return c, closeAll, nil
}
