package deploy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	admin "cloud.google.com/go/iam/admin/apiv1"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	run "cloud.google.com/go/run/apiv2"
	scheduler "cloud.google.com/go/scheduler/apiv1"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"
	"github.com/nba-props/pipeline/infra/image"
	"github.com/nba-props/pipeline/messages"
)

// Clients are the Google Cloud clients deploy uses, one per API. BigQuery may be nil: the
// datasets, tables and dataset grants are then skipped (and said so).
type Clients struct {
	Projects  *resourcemanager.ProjectsClient
	IAM       *admin.IamClient
	Secrets   *secretmanager.Client
	Services  *run.ServicesClient
	Jobs      *run.JobsClient
	Scheduler *scheduler.CloudSchedulerClient
	PubSub    *pubsub.Client
	Storage   *storage.Client
	BigQuery  *bigquery.Client
}

// Options say what to deploy where.
type Options struct {
	Project, Region string
	Environment     *Environment
	// Catalog defaults to messages.DefaultCatalog().
	Catalog *messages.Catalog
	// Images are the image references by binary (consumers, producer), each with its
	// digest (ParseImages). A binary left out keeps the image its service or job runs;
	// creating one needs it.
	Images map[string]string
	// Plan reads and compares but changes nothing.
	Plan bool
	// Offline plans without any client: every resource is shown as to create, with
	// placeholders for what only Google Cloud knows (the project number).
	Offline bool
}

// PlaceholderProjectNumber stands for the project number in an offline plan.
const PlaceholderProjectNumber = "PROJECT_NUMBER"

// Binaries deployed: the consumers run as services, the producer as a job.
const (
	ConsumersBinary = "consumers"
	ProducerBinary  = "producer"
)

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ParseImages reads --image-digest values, binary=sha256:<hex> (in repository, the
// environment's) or binary=REGISTRY/REPO/binary@sha256:<hex> as `infra image --push`
// prints it, into a reference per binary.
func ParseImages(values []string, repository string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range values {
		bin, ref, ok := strings.Cut(v, "=")
		if !ok || !slices.Contains(image.DefaultBinaries(), bin) {
			return nil, fmt.Errorf("--image-digest %q: want BINARY=sha256:HEX or BINARY=REPO/BINARY@sha256:HEX, BINARY one of %s",
				v, strings.Join(image.DefaultBinaries(), ", "))
		}
		if _, dup := out[bin]; dup {
			return nil, fmt.Errorf("--image-digest: %s given twice", bin)
		}
		repo, digest, full := strings.Cut(ref, "@")
		if !full {
			repo, digest = strings.TrimSuffix(repository, "/")+"/"+bin, ref
		}
		if !digestRE.MatchString(digest) {
			return nil, fmt.Errorf("--image-digest %s: %q is not a digest: want sha256: and 64 hex digits, as `infra image` prints", bin, digest)
		}
		if _, err := image.Repository(repo, ""); err != nil && full {
			return nil, fmt.Errorf("--image-digest %s: %w", bin, err)
		}
		out[bin] = repo + "@" + digest
	}
	return out, nil
}

// target is everything derived from the options: the names and URLs the resources
// refer to each other by.
type target struct {
	o        Options
	env      *Environment
	catalog  *messages.Catalog
	project  string
	number   string
	region   string
	bucket   string
	repo     string
	services []Service
	urls     map[messages.Phase]string
}

func (t *target) account(id string) string { return AccountEmail(id, t.project) }
func (t *target) member(id string) string  { return "serviceAccount:" + t.account(id) }
func (t *target) parent() string           { return "projects/" + t.project + "/locations/" + t.region }

// url is the service URL of a phase; a phase without a service (precompute has no jobs
// yet) sends its catch-all to the dead-letter service, which keeps what it cannot route.
func (t *target) url(p messages.Phase) string {
	if u, ok := t.urls[p]; ok {
		return u
	}
	return t.urls[DeadLetterPhase]
}

// image is the reference given for a binary, or "" when its digest was not given.
func (t *target) image(bin string) string {
	if ref, ok := t.o.Images[bin]; ok {
		return ref
	}
	return ""
}

// Run plans or applies the whole deployment: what a resource needs exists before it
// (accounts, then secrets, the topology with push subscriptions at the services'
// deterministic URLs, grants, services, the producer job, the schedules). An apply stops
// at the first error and returns what it did so far.
func Run(ctx context.Context, c Clients, o Options) (Report, error) {
	rep := Report{Applied: !o.Plan && !o.Offline}
	if o.Catalog == nil {
		o.Catalog = messages.DefaultCatalog()
	}
	if o.Environment == nil {
		return rep, errors.New("deploy: no environment")
	}
	if o.Project == "" || o.Region == "" {
		return rep, fmt.Errorf("%w: a project and a region are required", ErrEnvironment)
	}
	svcs, err := Services(o.Catalog, o.Environment)
	if err != nil {
		return rep, err
	}
	t := &target{o: o, env: o.Environment, catalog: o.Catalog, project: o.Project, region: o.Region,
		bucket: expand(o.Environment.Bucket, o.Project, o.Region), repo: expand(o.Environment.Repository, o.Project, o.Region),
		services: svcs, urls: map[messages.Phase]string{}}
	e := &engine{t: t, c: c, rep: &rep}

	if o.Offline {
		t.number = PlaceholderProjectNumber
		rep.Notes = append(rep.Notes,
			"offline: nothing was read from Google Cloud, so every resource is shown as to create",
			fmt.Sprintf("the project number is the placeholder %s: service URLs are shown in Cloud Run's deterministic form https://SERVICE-%s.%s.run.app, and the Pub/Sub service agent as service-%s@gcp-sa-pubsub.iam.gserviceaccount.com",
				PlaceholderProjectNumber, PlaceholderProjectNumber, t.region, PlaceholderProjectNumber))
	} else {
		p, err := c.Projects.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + t.project})
		if err != nil {
			return rep, wrapErr(t.project, "get", "project", t.project, err)
		}
		t.number = strings.TrimPrefix(p.GetName(), "projects/")
	}
	for _, s := range svcs {
		t.urls[s.Phase] = ServiceURL(s.Name, t.number, t.region)
	}
	for _, bin := range []string{ConsumersBinary, ProducerBinary} {
		if _, ok := o.Images[bin]; !ok {
			if o.Offline || o.Plan {
				rep.Notes = append(rep.Notes, fmt.Sprintf("no --image-digest for %s: a %s to create would need it (the image is shown as %s/%s@<digest>); one that exists keeps its image",
					bin, map[bool]string{true: "service", false: "job"}[bin == ConsumersBinary], t.repo, bin))
			}
		}
	}
	return rep, e.all(ctx)
}
